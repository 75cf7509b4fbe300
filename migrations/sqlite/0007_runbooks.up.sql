-- Runs of a stage's forward or rollback runbook. The steps are copied in when the run
-- starts, so editing the runbook later changes neither a run under way nor a finished one.
CREATE TABLE runbook_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id     INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    stage_id    INTEGER NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('forward', 'rollback')),
    rollback_id INTEGER REFERENCES rollbacks (id) ON DELETE SET NULL,
    preface     TEXT NOT NULL DEFAULT '',
    started_by  TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
-- One run under way per stage and runbook, even when two people start one at once.
CREATE UNIQUE INDEX runbook_runs_one_open ON runbook_runs (stage_id, kind) WHERE finished_at IS NULL;
CREATE INDEX runbook_runs_by_plan ON runbook_runs (plan_id, id);

CREATE TABLE runbook_run_steps (
    run_id          INTEGER NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    role            TEXT,
    person          TEXT,
    planned_seconds INTEGER,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'skipped')),
    done_by         TEXT,
    done_at         TEXT,
    skip_reason     TEXT,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE runbook_run_notes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  INTEGER NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
    step    INTEGER,
    author  TEXT NOT NULL,
    at      TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX runbook_run_notes_by_run ON runbook_run_notes (run_id, id);

-- A rollback is over when its runbook run is: the timer runs from the approval to then.
ALTER TABLE rollbacks ADD COLUMN runbook_finished_at TEXT;
ALTER TABLE rollbacks ADD COLUMN total_ms INTEGER;

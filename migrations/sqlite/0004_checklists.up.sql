-- A stage's go/no-go criteria and pre-flight checks, each recorded Pass, Fail or Not tested.
CREATE TABLE checklist_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    stage_id     INTEGER  NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    position     INTEGER  NOT NULL,
    text         TEXT    NOT NULL,
    required     INTEGER  NOT NULL DEFAULT 1 CHECK (required IN (0, 1)),
    status       TEXT    NOT NULL DEFAULT 'not_tested' CHECK (status IN ('not_tested', 'pass', 'fail')),
    comment      TEXT    NOT NULL DEFAULT '',
    evidence_url TEXT,
    checked_by   TEXT,
    checked_at   TEXT
);
CREATE INDEX checklist_items_by_stage ON checklist_items (stage_id, position);

-- When a stage started (its soak time counts from here) and passed.
ALTER TABLE stages ADD COLUMN started_at TEXT;
ALTER TABLE stages ADD COLUMN passed_at TEXT;

-- Plans, their ordered stages and risks, and the append-only audit log.
-- Times are RFC 3339 UTC text with a fixed width, so they sort as text on both databases.
CREATE TABLE plans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT    NOT NULL,
    summary     TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    owner       TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'in_review', 'approved', 'executing', 'completed', 'rolled_back', 'aborted')),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    archived_at TEXT
);
CREATE INDEX plans_by_update ON plans (updated_at);

CREATE TABLE stages (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id                  INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position                 INTEGER NOT NULL,
    name                     TEXT    NOT NULL,
    goal                     TEXT    NOT NULL DEFAULT '',
    description              TEXT    NOT NULL DEFAULT '',
    status                   TEXT    NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'awaiting_decision', 'active', 'passed', 'rolled_back', 'aborted')),
    planned_start            TEXT,
    planned_duration_minutes INTEGER,
    min_soak_minutes         INTEGER,
    forward_runbook          TEXT    NOT NULL DEFAULT '',
    rollback_runbook         TEXT    NOT NULL DEFAULT '',
    created_at               TEXT    NOT NULL,
    updated_at               TEXT    NOT NULL,
    UNIQUE (plan_id, position)
);

CREATE TABLE risks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id    INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    risk       TEXT    NOT NULL,
    likelihood TEXT    NOT NULL CHECK (likelihood IN ('low', 'medium', 'high')),
    impact     TEXT    NOT NULL CHECK (impact IN ('low', 'medium', 'high')),
    mitigation TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX risks_by_plan ON risks (plan_id, position);

-- No foreign key: entries outlive what they describe.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    plan_id     INTEGER,
    before_json TEXT,
    after_json  TEXT,
    request_id  TEXT
);
CREATE INDEX audit_by_plan ON audit_log (plan_id, id);

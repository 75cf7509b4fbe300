-- Feature flags, per environment, as services evaluate them.
CREATE TABLE environments (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
INSERT INTO environments (name, created_at) VALUES ('staging', '2026-11-21T00:00:00.000Z'), ('production', '2026-11-21T00:00:00.000Z');

CREATE TABLE flags (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    owner       TEXT    NOT NULL DEFAULT '',
    -- Comma-separated.
    tags        TEXT    NOT NULL DEFAULT '',
    version     INTEGER  NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    archived_at TEXT,
    -- Set by the kill switch; cleared when the flag is turned on again anywhere.
    killed_at   TEXT,
    killed_by   TEXT
);

-- One row per flag and environment. Lists are JSON arrays.
CREATE TABLE flag_states (
    flag_id     INTEGER  NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
    environment TEXT    NOT NULL REFERENCES environments (name),
    enabled     INTEGER  NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    percentage  INTEGER  NOT NULL DEFAULT 100 CHECK (percentage BETWEEN 0 AND 100),
    allow_keys  TEXT    NOT NULL DEFAULT '[]',
    deny_keys   TEXT    NOT NULL DEFAULT '[]',
    variants    TEXT    NOT NULL DEFAULT '[]',
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (flag_id, environment)
);

-- The flags a stage flips when it starts, applied together and reverted together.
CREATE TABLE stage_flag_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    stage_id    INTEGER  NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    position    INTEGER  NOT NULL,
    flag_key    TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    enabled     INTEGER  NOT NULL CHECK (enabled IN (0, 1)),
    percentage  INTEGER  NOT NULL CHECK (percentage BETWEEN 0 AND 100),
    -- The flag's whole state in that environment just before the stage started.
    prior_json  TEXT,
    applied_at  TEXT,
    reverted_at TEXT
);
CREATE INDEX stage_flag_changes_by_stage ON stage_flag_changes (stage_id, position);
CREATE INDEX stage_flag_changes_by_flag ON stage_flag_changes (flag_key);

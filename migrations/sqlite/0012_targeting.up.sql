-- Targeting rules per flag and environment (a JSON list, tried in order), and segments:
-- named sets of conditions that rules of any flag refer to.
ALTER TABLE flag_states ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
-- The rules a stage sets when it starts; NULL keeps the flag's own.
ALTER TABLE stage_flag_changes ADD COLUMN rules TEXT;

CREATE TABLE segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    -- A JSON list of conditions, all of which must hold.
    conditions  TEXT    NOT NULL DEFAULT '[]',
    version     INTEGER  NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- Which flag states' rules use a segment: a segment in use cannot be deleted.
CREATE TABLE flag_state_segments (
    flag_id     INTEGER  NOT NULL,
    environment TEXT    NOT NULL,
    segment_id  INTEGER  NOT NULL REFERENCES segments (id) ON DELETE RESTRICT,
    PRIMARY KEY (flag_id, environment, segment_id),
    FOREIGN KEY (flag_id, environment) REFERENCES flag_states (flag_id, environment) ON DELETE CASCADE
);
CREATE INDEX flag_state_segments_by_segment ON flag_state_segments (segment_id);

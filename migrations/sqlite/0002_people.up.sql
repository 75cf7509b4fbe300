-- People (accounts and sessions), API tokens, plan roles, and review: comments and sign-offs.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    contact       TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    -- argon2id, PHC string format.
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

-- Only hashes of session ids are stored: a copy of this table opens no session.
CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf         TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    -- The first characters, so a person can tell tokens apart.
    prefix       TEXT    NOT NULL,
    -- Comma-separated, e.g. 'plans:read,flags:read'.
    scopes       TEXT    NOT NULL,
    environment  TEXT,
    created_by   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE plan_roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id     INTEGER  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id     INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL
                CHECK (role IN ('migration_lead', 'on_call', 'rollback_authority', 'stakeholder')),
    assigned_at TEXT    NOT NULL,
    UNIQUE (plan_id, user_id, role)
);
CREATE INDEX plan_roles_by_user ON plan_roles (user_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id    INTEGER  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    stage_id   INTEGER  REFERENCES stages (id) ON DELETE SET NULL,
    parent_id  INTEGER  REFERENCES comments (id) ON DELETE CASCADE,
    author_id  INTEGER  NOT NULL REFERENCES users (id),
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
CREATE INDEX comments_by_plan ON comments (plan_id, id);

-- A sign-off holds for the plan version it was given on; a later change voids it.
CREATE TABLE signoffs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id      INTEGER  NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id      INTEGER  NOT NULL REFERENCES users (id),
    decision     TEXT    NOT NULL CHECK (decision IN ('approved', 'changes_requested')),
    comment      TEXT    NOT NULL DEFAULT '',
    plan_version INTEGER  NOT NULL,
    created_at   TEXT    NOT NULL,
    voided_at    TEXT
);
CREATE INDEX signoffs_by_plan ON signoffs (plan_id, id);

-- Why the plan went back to review, shown on the plan page until it is approved again.
ALTER TABLE plans ADD COLUMN review_note TEXT;

-- Agent providers a workspace may choose; `flag` makes one available per workspace id.
CREATE TABLE providers (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    needs_key    BIGINT NOT NULL DEFAULT 0,
    flag         TEXT,
    position     BIGINT NOT NULL,
    created_at   TEXT NOT NULL
);
INSERT INTO providers (id, display_name, description, needs_key, flag, position, created_at) VALUES
    ('claude', 'Claude', 'Anthropic''s Claude agent. Works with every workspace; no key needed.', 0, NULL, 0, '2026-11-21T00:00:00.000Z'),
    ('codex', 'Codex', 'OpenAI''s Codex agent, run with the workspace''s own OpenAI API key.', 1, 'ENABLE_CODEX_PROVIDER', 1, '2026-11-21T00:00:00.000Z');

CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    agent_provider TEXT NOT NULL DEFAULT 'claude' REFERENCES providers (id),
    -- AES-256-GCM: base64 of nonce and ciphertext; the key itself is never stored here.
    api_key_sealed TEXT,
    api_key_last4  TEXT,
    last_switch_at TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX workspaces_by_provider ON workspaces (agent_provider, id);

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_by_user ON workspace_members (user_id);

-- Sessions, switches and other changes of one workspace, in order.
CREATE TABLE workspace_history (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('created', 'switch', 'session', 'key_set', 'key_removed', 'renamed', 'member_added', 'member_removed')),
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL,
    provider      TEXT,
    from_provider TEXT,
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workspace_history_by_workspace ON workspace_history (workspace_id, kind, id);

-- CSV imports and their progress, readable from every replica.
CREATE TABLE workspace_imports (
    id             BIGSERIAL PRIMARY KEY,
    status         TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    total          BIGINT NOT NULL,
    processed      BIGINT NOT NULL DEFAULT 0,
    created        BIGINT NOT NULL DEFAULT 0,
    updated        BIGINT NOT NULL DEFAULT 0,
    unchanged      BIGINT NOT NULL DEFAULT 0,
    rejected_count BIGINT NOT NULL DEFAULT 0,
    rejected       TEXT NOT NULL DEFAULT '[]',
    started_by     TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    error          TEXT
);

-- How many workspaces used each provider, per hour in which that changed.
CREATE TABLE provider_adoption (
    hour       TEXT NOT NULL,
    provider   TEXT NOT NULL,
    workspaces BIGINT NOT NULL,
    PRIMARY KEY (hour, provider)
);

-- A known value sealed with the secret key, to refuse a different key at start.
CREATE TABLE secret_check (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    sealed     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Who decides a stage's go/no-go gate (plan roles, comma-separated) and how many approvals it needs.
ALTER TABLE stages ADD COLUMN gate_roles TEXT NOT NULL DEFAULT 'migration_lead,rollback_authority';
ALTER TABLE stages ADD COLUMN gate_approvals BIGINT NOT NULL DEFAULT 1;
-- How fast an approved rollback must put the flags back.
ALTER TABLE plans ADD COLUMN rollback_target_seconds BIGINT NOT NULL DEFAULT 30;

-- A go/no-go request for one stage; roles and approvals are copied from the stage when requested.
CREATE TABLE gates (
    id                  BIGSERIAL PRIMARY KEY,
    plan_id             BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    stage_id            BIGINT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    requested_by        TEXT NOT NULL,
    requested_by_id     BIGINT,
    rationale           TEXT NOT NULL DEFAULT '',
    roles               TEXT NOT NULL,
    approvals_required  BIGINT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'go', 'no_go', 'withdrawn')),
    requested_at        TEXT NOT NULL,
    decided_at          TEXT,
    decision_rationale  TEXT
);
-- At most one open request per stage, even when two arrive at once.
CREATE UNIQUE INDEX gates_one_open ON gates (stage_id) WHERE status = 'pending';
CREATE INDEX gates_by_plan ON gates (plan_id, id);

CREATE TABLE gate_votes (
    id        BIGSERIAL PRIMARY KEY,
    gate_id   BIGINT NOT NULL REFERENCES gates (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL,
    username  TEXT NOT NULL,
    vote      TEXT NOT NULL CHECK (vote IN ('go', 'no_go')),
    role      TEXT NOT NULL,
    rationale TEXT NOT NULL DEFAULT '',
    voted_at  TEXT NOT NULL,
    UNIQUE (gate_id, user_id)
);

-- A request to roll a stage back, its decision, and how long the flags took to revert.
CREATE TABLE rollbacks (
    id               BIGSERIAL PRIMARY KEY,
    plan_id          BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    stage_id         BIGINT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    requested_by     TEXT NOT NULL,
    requested_by_id  BIGINT,
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    requested_at     TEXT NOT NULL,
    decided_by       TEXT,
    decided_at       TEXT,
    decision_comment TEXT,
    automatic        BIGINT NOT NULL DEFAULT 0 CHECK (automatic IN (0, 1)),
    reverted_at      TEXT,
    duration_ms      BIGINT,
    target_seconds   BIGINT
);
CREATE UNIQUE INDEX rollbacks_one_open ON rollbacks (stage_id) WHERE status = 'pending';
CREATE INDEX rollbacks_by_plan ON rollbacks (plan_id, id);

-- Admin-registered URLs that receive signed JSON events.
CREATE TABLE webhooks (
    id          BIGSERIAL PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL DEFAULT '*',
    description TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);

-- One event for one webhook, retried with backoff until delivered or out of attempts.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,
    last_attempt_at TEXT,
    response_status BIGINT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, id);

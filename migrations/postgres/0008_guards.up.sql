-- Whether a guard may approve its own rollback of this stage (Argo Rollouts' automatic abort).
ALTER TABLE stages ADD COLUMN auto_rollback BIGINT NOT NULL DEFAULT 0 CHECK (auto_rollback IN (0, 1));

-- A rollback trigger on a live metric, watched while its stage is active.
CREATE TABLE guards (
    id                      BIGSERIAL PRIMARY KEY,
    plan_id                 BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    stage_id                BIGINT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    metric                  TEXT NOT NULL,
    comparison              TEXT NOT NULL CHECK (comparison IN ('>', '>=', '<', '<=')),
    threshold               DOUBLE PRECISION NOT NULL,
    -- 1: the threshold is a multiple of the baseline.
    relative                BIGINT NOT NULL DEFAULT 0 CHECK (relative IN (0, 1)),
    -- The lead's number, or else the mean over this many minutes before the stage started.
    baseline_value          DOUBLE PRECISION,
    baseline_window_minutes BIGINT,
    -- The measured baseline, kept once known so every later evaluation uses the same one.
    baseline_measured       DOUBLE PRECISION,
    baseline_samples        BIGINT,
    window_seconds          BIGINT NOT NULL,
    min_samples             BIGINT NOT NULL,
    action                  TEXT NOT NULL CHECK (action IN ('notify', 'pause', 'roll_back')),
    created_by              TEXT NOT NULL,
    created_at              TEXT NOT NULL
);
CREATE INDEX guards_by_stage ON guards (stage_id, id);
CREATE INDEX guards_by_metric ON guards (metric);

-- A guard's condition held: what was seen, and what the guard did.
CREATE TABLE guard_breaches (
    id           BIGSERIAL PRIMARY KEY,
    guard_id     BIGINT NOT NULL REFERENCES guards (id) ON DELETE CASCADE,
    plan_id      BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    stage_id     BIGINT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    value        DOUBLE PRECISION NOT NULL,
    samples      BIGINT NOT NULL,
    threshold    DOUBLE PRECISION NOT NULL,
    baseline     DOUBLE PRECISION,
    action       TEXT NOT NULL,
    rollback_id  BIGINT REFERENCES rollbacks (id) ON DELETE SET NULL,
    at           TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    resolved_at  TEXT,
    resolved_by  TEXT,
    resolution   TEXT
);
-- One open breach per guard: a breach is one alert, not one per batch.
CREATE UNIQUE INDEX guard_breaches_one_open ON guard_breaches (guard_id) WHERE resolved_at IS NULL;
CREATE INDEX guard_breaches_by_plan ON guard_breaches (plan_id, id);

-- Raw samples, kept for the retention period (RUNWAY_METRICS_RETENTION_DAYS).
CREATE TABLE metric_samples (
    id     BIGSERIAL PRIMARY KEY,
    metric TEXT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    at_ms  BIGINT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX metric_samples_by_metric ON metric_samples (metric, at_ms);
CREATE INDEX metric_samples_by_time ON metric_samples (at_ms);

-- Per-second count and sum of each metric: a guard's window mean reads at most one row per
-- second of its window, however many samples arrived.
CREATE TABLE metric_seconds (
    metric    TEXT NOT NULL,
    at_second BIGINT NOT NULL,
    samples   BIGINT NOT NULL,
    total     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (metric, at_second)
);
CREATE INDEX metric_seconds_by_time ON metric_seconds (at_second);

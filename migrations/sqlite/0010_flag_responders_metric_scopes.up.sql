-- Usernames (comma-separated) who may use the flag's kill switch, besides admins and the
-- on-call and rollback authorities of plans whose stages change the flag.
ALTER TABLE flags ADD COLUMN responders TEXT NOT NULL DEFAULT '';

-- The metric names or prefixes (comma-separated; empty: any) a metrics:write token may send.
ALTER TABLE api_tokens ADD COLUMN metrics TEXT NOT NULL DEFAULT '';

-- Label matchers (canonical JSON object): a guard reads only samples carrying all of them.
ALTER TABLE guards ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';

-- Per-second sums kept per label set too, so a guard can leave out other services'
-- samples. Rebuilt from the raw samples, which cover the same retention period.
DROP TABLE metric_seconds;
CREATE TABLE metric_seconds (
    metric    TEXT NOT NULL,
    -- The sample's labels as canonical JSON (keys sorted), as in metric_samples.labels.
    labels    TEXT NOT NULL,
    at_second INTEGER NOT NULL,
    samples   INTEGER NOT NULL,
    total     REAL NOT NULL,
    PRIMARY KEY (metric, at_second, labels)
);
CREATE INDEX metric_seconds_by_time ON metric_seconds (at_second);
INSERT INTO metric_seconds (metric, labels, at_second, samples, total)
    SELECT metric, labels, at_ms / 1000, COUNT(*), SUM(value) FROM metric_samples GROUP BY metric, labels, at_ms / 1000;

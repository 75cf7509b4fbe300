DROP TABLE metric_seconds;
CREATE TABLE metric_seconds (
    metric    TEXT NOT NULL,
    at_second BIGINT NOT NULL,
    samples   BIGINT NOT NULL,
    total     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (metric, at_second)
);
CREATE INDEX metric_seconds_by_time ON metric_seconds (at_second);
INSERT INTO metric_seconds (metric, at_second, samples, total)
    SELECT metric, at_ms / 1000, COUNT(*), SUM(value) FROM metric_samples GROUP BY metric, at_ms / 1000;
ALTER TABLE guards DROP COLUMN labels;
ALTER TABLE api_tokens DROP COLUMN metrics;
ALTER TABLE flags DROP COLUMN responders;

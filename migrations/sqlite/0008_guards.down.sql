DROP TABLE metric_seconds;
DROP TABLE metric_samples;
DROP TABLE guard_breaches;
DROP TABLE guards;
ALTER TABLE stages DROP COLUMN auto_rollback;

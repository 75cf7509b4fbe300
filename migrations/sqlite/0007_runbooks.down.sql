ALTER TABLE rollbacks DROP COLUMN total_ms;
ALTER TABLE rollbacks DROP COLUMN runbook_finished_at;
DROP TABLE runbook_run_notes;
DROP TABLE runbook_run_steps;
DROP TABLE runbook_runs;

DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE rollbacks;
DROP TABLE gate_votes;
DROP TABLE gates;
ALTER TABLE plans DROP COLUMN rollback_target_seconds;
ALTER TABLE stages DROP COLUMN gate_approvals;
ALTER TABLE stages DROP COLUMN gate_roles;

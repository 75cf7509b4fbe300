DROP TABLE audit_log;
DROP TABLE risks;
DROP TABLE stages;
DROP TABLE plans;

ALTER TABLE plans DROP COLUMN review_note;
DROP TABLE signoffs;
DROP TABLE comments;
DROP TABLE plan_roles;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;

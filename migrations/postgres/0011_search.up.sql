-- Substring search through trigram indexes (pg_trgm, a trusted extension: the database's
-- owner may create it). Lists page by key, so the audit log's filters get indexes that
-- end in the id they are ordered by.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX workspaces_search_id ON workspaces USING gin (id gin_trgm_ops);
CREATE INDEX workspaces_search_name ON workspaces USING gin (name gin_trgm_ops);
CREATE INDEX plans_search_title ON plans USING gin (title gin_trgm_ops);
CREATE INDEX plans_search_summary ON plans USING gin (summary gin_trgm_ops);
CREATE INDEX plans_search_owner ON plans USING gin (owner gin_trgm_ops);

CREATE INDEX plans_by_update_id ON plans (updated_at, id);
CREATE INDEX audit_by_actor ON audit_log (actor, id);
CREATE INDEX audit_by_action ON audit_log (action, id);
CREATE INDEX audit_by_time ON audit_log (at);

-- Substring search through trigram indexes (FTS5): a search of three or more characters
-- reads the index instead of every row. Lists page by key, so the audit log's filters
-- get indexes that end in the id they are ordered by.

-- Workspaces are keyed by text, and SQLite may renumber the rowids of such a table on
-- VACUUM, so each workspace gets a fixed number here for the index to refer to.
CREATE TABLE workspace_search_rows (
    n            INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE workspace_search USING fts5 (id, name, tokenize = 'trigram');
INSERT INTO workspace_search_rows (workspace_id) SELECT id FROM workspaces ORDER BY id;
INSERT INTO workspace_search (rowid, id, name)
    SELECT r.n, w.id, w.name FROM workspaces w JOIN workspace_search_rows r ON r.workspace_id = w.id;

CREATE TRIGGER workspace_search_insert AFTER INSERT ON workspaces BEGIN
    INSERT INTO workspace_search_rows (workspace_id) VALUES (new.id);
    INSERT INTO workspace_search (rowid, id, name)
        VALUES ((SELECT n FROM workspace_search_rows WHERE workspace_id = new.id), new.id, new.name);
END;
CREATE TRIGGER workspace_search_update AFTER UPDATE OF id, name ON workspaces
    WHEN old.id IS NOT new.id OR old.name IS NOT new.name BEGIN
    UPDATE workspace_search_rows SET workspace_id = new.id WHERE workspace_id = old.id;
    UPDATE workspace_search SET id = new.id, name = new.name
        WHERE rowid = (SELECT n FROM workspace_search_rows WHERE workspace_id = new.id);
END;
CREATE TRIGGER workspace_search_delete AFTER DELETE ON workspaces BEGIN
    DELETE FROM workspace_search WHERE rowid = (SELECT n FROM workspace_search_rows WHERE workspace_id = old.id);
    DELETE FROM workspace_search_rows WHERE workspace_id = old.id;
END;

-- Plans have a fixed integer id, which is the index's rowid.
CREATE VIRTUAL TABLE plan_search USING fts5 (title, summary, owner, tokenize = 'trigram');
INSERT INTO plan_search (rowid, title, summary, owner) SELECT id, title, summary, owner FROM plans;
CREATE TRIGGER plan_search_insert AFTER INSERT ON plans BEGIN
    INSERT INTO plan_search (rowid, title, summary, owner) VALUES (new.id, new.title, new.summary, new.owner);
END;
CREATE TRIGGER plan_search_update AFTER UPDATE OF title, summary, owner ON plans
    WHEN old.title IS NOT new.title OR old.summary IS NOT new.summary OR old.owner IS NOT new.owner BEGIN
    UPDATE plan_search SET title = new.title, summary = new.summary, owner = new.owner WHERE rowid = new.id;
END;
CREATE TRIGGER plan_search_delete AFTER DELETE ON plans BEGIN
    DELETE FROM plan_search WHERE rowid = old.id;
END;

CREATE INDEX plans_by_update_id ON plans (updated_at, id);
CREATE INDEX audit_by_actor ON audit_log (actor, id);
CREATE INDEX audit_by_action ON audit_log (action, id);
CREATE INDEX audit_by_time ON audit_log (at);

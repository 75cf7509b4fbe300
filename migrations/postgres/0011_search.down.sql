-- The pg_trgm extension stays: other schemas in the database may use it.
DROP INDEX audit_by_time;
DROP INDEX audit_by_action;
DROP INDEX audit_by_actor;
DROP INDEX plans_by_update_id;
DROP INDEX plans_search_owner;
DROP INDEX plans_search_summary;
DROP INDEX plans_search_title;
DROP INDEX workspaces_search_name;
DROP INDEX workspaces_search_id;

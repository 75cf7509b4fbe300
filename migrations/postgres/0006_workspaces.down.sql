DROP TABLE secret_check;
DROP TABLE provider_adoption;
DROP TABLE workspace_imports;
DROP TABLE workspace_history;
DROP TABLE workspace_members;
DROP TABLE workspaces;
DROP TABLE providers;

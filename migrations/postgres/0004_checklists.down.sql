ALTER TABLE stages DROP COLUMN passed_at;
ALTER TABLE stages DROP COLUMN started_at;
DROP TABLE checklist_items;

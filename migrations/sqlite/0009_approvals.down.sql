ALTER TABLE gates DROP COLUMN stage_revision;
ALTER TABLE stages DROP COLUMN change_note;
ALTER TABLE stages DROP COLUMN signed_revision;
ALTER TABLE stages DROP COLUMN revision;

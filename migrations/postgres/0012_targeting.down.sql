DROP TABLE flag_state_segments;
DROP TABLE segments;
ALTER TABLE flag_states DROP COLUMN rules;
ALTER TABLE stage_flag_changes DROP COLUMN rules;

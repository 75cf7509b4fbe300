DROP TABLE stage_flag_changes;
DROP TABLE flag_states;
DROP TABLE flags;
DROP TABLE environments;

DROP TABLE flag_states;
DROP TABLE flags;
DROP TABLE environments;

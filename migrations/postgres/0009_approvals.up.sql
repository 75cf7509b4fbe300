-- What was signed off, per stage: a content change to a stage bumps its revision; a
-- sign-off that approves the plan makes signed_revision catch up. A gate opens only on a
-- signed stage, and remembers the revision it was asked for, so a vote on a stage
-- changed since then is refused.
ALTER TABLE stages ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stages ADD COLUMN signed_revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stages ADD COLUMN change_note TEXT;
ALTER TABLE gates ADD COLUMN stage_revision BIGINT NOT NULL DEFAULT 0;

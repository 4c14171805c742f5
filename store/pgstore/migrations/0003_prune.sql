-- When each record last changed, so that tombstones can be pruned once
-- every running process has long seen them (see prune.go).
ALTER TABLE portier_records ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX portier_records_tombstones ON portier_records (changed_at) WHERE deleted;

-- The highest sequence of a pruned tombstone: a process that has not caught
-- up past it may have missed a delete, and must reload (restart).
ALTER TABLE portier_seq ADD COLUMN pruned bigint NOT NULL DEFAULT 0;

-- The audit log, kept apart from the records and never loaded into the read
-- model: one row per event, in chain order (seq = the event's position,
-- 1, 2, 3…), entry = the sealed event's JSON, whose hash chain
-- `portier audit verify` checks. The other columns are copies of the
-- entry's fields for the filters' indexes.
CREATE TABLE portier_audit (
    seq    bigint      PRIMARY KEY,
    id     text        NOT NULL,
    at     timestamptz NOT NULL,
    actor  text        NOT NULL,
    action text        NOT NULL,
    target text        NOT NULL,
    entry  bytea       NOT NULL
);
CREATE INDEX portier_audit_at ON portier_audit (at, seq);
CREATE INDEX portier_audit_actor ON portier_audit (actor, seq);
CREATE INDEX portier_audit_action ON portier_audit (action text_pattern_ops, seq);
CREATE INDEX portier_audit_target ON portier_audit (target, seq);

-- The chain's head (last event appended) and anchor (last event pruned).
-- They live on the counter row, whose lock every committer holds, so the
-- chain is appended to in commit order by one transaction at a time.
ALTER TABLE portier_seq
    ADD COLUMN audit_seq         bigint NOT NULL DEFAULT 0,
    ADD COLUMN audit_hash        text   NOT NULL DEFAULT '',
    ADD COLUMN audit_anchor_seq  bigint NOT NULL DEFAULT 0,
    ADD COLUMN audit_anchor_hash text   NOT NULL DEFAULT '';

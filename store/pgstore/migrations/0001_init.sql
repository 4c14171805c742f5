-- Every record of every kind, keyed by (kind, id). A delete leaves a
-- tombstone (deleted, value NULL) carrying the delete's sequence, so that
-- followers catching up by sequence see it.
CREATE TABLE portier_records (
    kind    text    NOT NULL,
    id      text    NOT NULL,
    value   bytea,
    seq     bigint  NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (kind, id),
    CHECK (deleted = (value IS NULL))
);

-- Followers read WHERE seq > $1 ORDER BY seq; a sequence is never reused.
CREATE UNIQUE INDEX portier_records_seq ON portier_records (seq);

-- The change sequence: one row whose lock every committer takes, which
-- hands out numbers in commit order (see commit.go).
CREATE TABLE portier_seq (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    v   bigint  NOT NULL CHECK (v >= 0)
);
INSERT INTO portier_seq (one, v) VALUES (true, 0);

-- portier_check_absent fails the transaction with SQLSTATE PT409 when any of
-- the given records is live. Commit calls it for Create mutations after
-- taking the counter lock, so it sees every earlier committer's rows.
CREATE FUNCTION portier_check_absent(kinds text[], ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text;
    i text;
BEGIN
    SELECT r.kind, r.id INTO k, i
    FROM portier_records r
    JOIN unnest(kinds, ids) AS c(kind, id) USING (kind, id)
    WHERE NOT r.deleted
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'record %/% already exists', k, i USING ERRCODE = 'PT409';
    END IF;
END
$$;

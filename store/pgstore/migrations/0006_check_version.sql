-- portier_check_version fails the transaction with SQLSTATE PT412 when any
-- of the given records is not at the given version (the "version" field of
-- its JSON value; 0 when absent or deleted): compare-and-set. Commit calls
-- it after taking the counter lock, like portier_check_absent, so it sees
-- every earlier committer's rows.
CREATE FUNCTION portier_check_version(kinds text[], ids text[], versions bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text;
    i text;
    want bigint;
    have bigint;
BEGIN
    SELECT c.kind, c.id, c.v, c.have INTO k, i, want, have
    FROM (
        SELECT u.kind, u.id, u.v,
               COALESCE((convert_from(r.value, 'UTF8')::jsonb ->> 'version')::bigint, 0) AS have
        FROM unnest(kinds, ids, versions) AS u(kind, id, v)
        LEFT JOIN portier_records r ON r.kind = u.kind AND r.id = u.id AND NOT r.deleted
    ) c
    WHERE c.have <> c.v
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'record %/% is at version %, not %', k, i, have, want USING ERRCODE = 'PT412';
    END IF;
END
$$;

-- History records (rule versions) are read by kind and id prefix.
CREATE INDEX portier_records_kind_id ON portier_records (kind, id COLLATE "C");

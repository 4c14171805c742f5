-- portier_check_present fails the transaction with SQLSTATE PT404 when any
-- of the given records is absent or deleted. Commit calls it for Update
-- mutations after taking the counter lock, like portier_check_absent.
CREATE FUNCTION portier_check_present(kinds text[], ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k text;
    i text;
BEGIN
    SELECT c.kind, c.id INTO k, i
    FROM unnest(kinds, ids) AS c(kind, id)
    LEFT JOIN portier_records r USING (kind, id)
    WHERE r.id IS NULL OR r.deleted
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'record %/% does not exist', k, i USING ERRCODE = 'PT404';
    END IF;
END
$$;

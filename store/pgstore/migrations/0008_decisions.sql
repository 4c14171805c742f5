-- portier:expand
-- Recorded access (see store/decisionlog.go and docs/decisions.md): one row
-- per distinct decision facts per hour, with how many requests had them.
-- Several replicas flush into the same row: (hour, key) is unique and a
-- flush adds its count. entry is the record's JSON; its count, first and
-- last are the columns'. Not records: neither followed nor backed up.
CREATE TABLE portier_decisions (
    id          bigserial   PRIMARY KEY,
    hour        timestamptz NOT NULL,
    key         bytea       NOT NULL,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    count       bigint      NOT NULL,
    route       text        NOT NULL,
    user_id     text        NOT NULL,
    email       text        NOT NULL,
    device      text        NOT NULL,
    outcome     text        NOT NULL,
    rules       text[]      NOT NULL,
    report_only boolean     NOT NULL,
    ro_outcome  text        NOT NULL,
    ro_rules    text[]      NOT NULL,
    entry       bytea       NOT NULL,
    UNIQUE (hour, key)
);
CREATE INDEX portier_decisions_order ON portier_decisions (hour DESC, id DESC);
CREATE INDEX portier_decisions_user ON portier_decisions (email, hour DESC, id DESC);
CREATE INDEX portier_decisions_route ON portier_decisions (route, hour DESC, id DESC);

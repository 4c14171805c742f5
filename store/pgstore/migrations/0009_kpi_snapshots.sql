-- portier:expand
-- Daily KPI snapshots (see store/kpisnapshot.go and docs/dashboard.md): one
-- row per day, dimension and value; entry is the snapshot's JSON. Taking a
-- day again replaces its rows. Not records: neither followed nor backed up.
CREATE TABLE portier_kpi_snapshots (
    day       timestamptz NOT NULL,
    dimension text        NOT NULL,
    value     text        NOT NULL,
    taken_at  timestamptz NOT NULL,
    entry     bytea       NOT NULL,
    PRIMARY KEY (dimension, value, day)
);
CREATE INDEX portier_kpi_snapshots_day ON portier_kpi_snapshots (day);

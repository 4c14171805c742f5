-- Rate-limit counters shared by every replica (see limit.go): one row per
-- key, counting the events of its current window. Not records: they are
-- neither followed, nor backed up, nor restored.
CREATE TABLE portier_limits (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    n            integer     NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX portier_limits_expires ON portier_limits (expires_at);

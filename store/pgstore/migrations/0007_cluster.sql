-- Cluster coordination, outside the change sequence (see lease.go and
-- replicas.go): neither followed, nor backed up, nor restored.
--
-- Leases: one row per background job; the holder renews expires_at, and
-- another replica may take the row once it has passed (the database's
-- clock decides, so replicas' clock skew does not matter).
CREATE TABLE portier_leases (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Heartbeats: each replica's latest, overwritten every few seconds.
CREATE TABLE portier_replicas (
    id            text             PRIMARY KEY,
    version       text             NOT NULL,
    started_at    timestamptz      NOT NULL,
    heartbeat_at  timestamptz      NOT NULL,
    applied_seq   bigint           NOT NULL,
    head_seq      bigint           NOT NULL,
    db_latency_ms double precision NOT NULL,
    staleness_ms  double precision NOT NULL
);
CREATE INDEX portier_replicas_heartbeat ON portier_replicas (heartbeat_at);

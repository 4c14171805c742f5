package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

var _ store.Replicas = (*DB)(nil)

// replicaForget is how long a replica that stopped heartbeating stays in
// the cluster view (marked missing) before its row is removed.
const replicaForget = 24 * time.Hour

const sqlBeat = `INSERT INTO portier_replicas AS r
	(id, version, started_at, heartbeat_at, applied_seq, head_seq, db_latency_ms, staleness_ms)
	VALUES ($1, $2, $3, now(), $4, $5, $6, $7)
	ON CONFLICT (id) DO UPDATE SET version = excluded.version, started_at = excluded.started_at,
		heartbeat_at = excluded.heartbeat_at, applied_seq = excluded.applied_seq, head_seq = excluded.head_seq,
		db_latency_ms = excluded.db_latency_ms, staleness_ms = excluded.staleness_ms`

// Beat implements store.Replicas: an upsert of the replica's row (not a
// record: no change sequence, no notification), and removal of replicas
// gone for longer than replicaForget.
func (db *DB) Beat(ctx context.Context, hb store.Heartbeat) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := db.pool.Exec(ctx, sqlBeat, hb.ReplicaID, hb.Version, hb.StartedAt, int64(hb.AppliedSeq), int64(hb.HeadSeq),
		ms(hb.DBLatency), ms(hb.Staleness))
	if err != nil {
		return fmt.Errorf("pgstore: heartbeat: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM portier_replicas WHERE heartbeat_at < now() - $1 * interval '1 second'`,
		replicaForget.Seconds()); err != nil {
		return fmt.Errorf("pgstore: forget old replicas: %w", err)
	}
	return nil
}

// Leave implements store.Replicas.
func (db *DB) Leave(ctx context.Context, replicaID string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := db.pool.Exec(ctx, `DELETE FROM portier_replicas WHERE id = $1`, replicaID); err != nil {
		return fmt.Errorf("pgstore: remove the heartbeat of %s: %w", replicaID, err)
	}
	return nil
}

// Replicas implements store.Replicas, ordered by replica id.
func (db *DB) Replicas(ctx context.Context) ([]store.Heartbeat, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT id, version, started_at, heartbeat_at, applied_seq, head_seq,
		db_latency_ms, staleness_ms, extract(epoch FROM now() - heartbeat_at)
		FROM portier_replicas ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list replicas: %w", err)
	}
	defer rows.Close()
	var out []store.Heartbeat
	for rows.Next() {
		var hb store.Heartbeat
		var applied, head int64
		var lat, stale, age float64
		if err := rows.Scan(&hb.ReplicaID, &hb.Version, &hb.StartedAt, &hb.At, &applied, &head, &lat, &stale, &age); err != nil {
			return nil, fmt.Errorf("pgstore: list replicas: %w", err)
		}
		hb.AppliedSeq, hb.HeadSeq = uint64(applied), uint64(head)
		hb.DBLatency = time.Duration(lat * float64(time.Millisecond))
		hb.Staleness = time.Duration(stale * float64(time.Millisecond))
		hb.Age = time.Duration(age * float64(time.Second))
		out = append(out, hb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list replicas: %w", err)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

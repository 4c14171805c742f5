package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// TombstoneRetention is how long a delete's tombstone is kept. Every
	// running process catches up within a second; one that was cut off
	// from the database for longer than this must restart to reload.
	TombstoneRetention = 7 * 24 * time.Hour
	// pruneEvery is how often each process prunes (with jitter, so
	// replicas do not all prune at once; pruning twice is harmless).
	pruneEvery = time.Hour
	// pruneBatch bounds one pruning transaction, which holds the counter
	// lock and so pauses commits while it runs.
	pruneBatch = 5000
)

// ErrTooFarBehind is returned by Since when tombstones this process had not
// seen yet were pruned: it may have missed deletes (a revoked session, a
// retired device), so it must not go on; restart it to reload.
var ErrTooFarBehind = errors.New("this process was cut off from PostgreSQL for longer than the tombstone retention and may have missed deletes: restart it to reload the state")

// Prune removes the tombstones of deletes made before before, in batches,
// and raises the pruned mark to the highest sequence removed. It returns how
// many tombstones it removed.
func (db *DB) Prune(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := db.pruneBatch(ctx, before)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// pruneBatch removes up to pruneBatch old tombstones in one transaction
// that first takes the counter lock, as every commit does: commits and
// pruning never wait on each other's row locks in opposite orders, and no
// tombstone is rewritten while it is being removed.
func (db *DB) pruneBatch(ctx context.Context, before time.Time) (int, error) {
	tx, err := db.begin(ctx, pgx.TxOptions{})
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	if _, err := tx.Exec(ctx, `SELECT 1 FROM portier_seq FOR UPDATE`); err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	var n int
	err = tx.QueryRow(ctx, `WITH d AS (
			DELETE FROM portier_records r USING (
				SELECT kind, id FROM portier_records WHERE deleted AND changed_at < $1 LIMIT $2
			) old
			WHERE r.kind = old.kind AND r.id = old.id
			RETURNING r.seq
		)
		UPDATE portier_seq SET pruned = GREATEST(pruned, COALESCE((SELECT max(seq) FROM d), 0))
		RETURNING (SELECT count(*) FROM d)`, before, pruneBatch).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	return n, nil
}

// pruneLoop prunes tombstones older than TombstoneRetention every
// pruneEvery (the first time after a random part of it) until ctx ends.
func (db *DB) pruneLoop(ctx context.Context) {
	defer close(db.pruneDone)
	wait := time.Duration(rand.Int64N(int64(pruneEvery)))
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = pruneEvery
		// During a rolling upgrade an older process may still write audit
		// events as records: move them into the chain too.
		if err := db.moveLegacyAudit(ctx); err != nil && ctx.Err() == nil {
			db.log.Warn("pgstore: cannot move audit events into the audit log; will retry", "err", err)
		}
		if _, err := db.pruneLimits(ctx, time.Now().Add(-time.Hour)); err != nil && ctx.Err() == nil {
			db.log.Warn("pgstore: cannot prune rate-limit counters; will retry", "err", err)
		}
		n, err := db.Prune(ctx, time.Now().Add(-TombstoneRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			db.log.Warn("pgstore: cannot prune tombstones; will retry", "err", err)
		case n > 0:
			db.log.Info("pgstore: pruned tombstones", "count", n, "older_than", TombstoneRetention.String())
		}
	}
}

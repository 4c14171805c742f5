package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

var _ store.Counter = (*DB)(nil)

// sqlCount adds one event to a key's window in one statement: a new window
// (later than the stored one) starts again at 1; an event of the stored
// window, or of an earlier one seen late from a replica whose clock lags,
// counts in the stored window. Concurrent callers serialize on the row.
const sqlCount = `INSERT INTO portier_limits AS l (key, window_start, n, expires_at) VALUES ($1, $2, 1, $3)
	ON CONFLICT (key) DO UPDATE SET
		n = CASE WHEN l.window_start >= excluded.window_start THEN l.n + 1 ELSE 1 END,
		window_start = GREATEST(l.window_start, excluded.window_start),
		expires_at = GREATEST(l.expires_at, excluded.expires_at)
	RETURNING n`

// Count implements store.Counter in the database, shared by every process
// on it.
func (db *DB) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	start := now.Truncate(window)
	var n int
	if err := db.pool.QueryRow(ctx, sqlCount, key, start, start.Add(window)).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: rate-limit counter: %w", err)
	}
	return n, nil
}

// pruneLimits removes counters whose window ended before before.
func (db *DB) pruneLimits(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM portier_limits WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune rate-limit counters: %w", err)
	}
	return tag.RowsAffected(), nil
}

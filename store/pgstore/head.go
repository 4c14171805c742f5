package pgstore

import (
	"context"
	"fmt"

	"github.com/portier/portier/store"
)

var _ store.Head = (*DB)(nil)

// Head reads the highest committed sequence: the staleness probe. It runs
// on a pooled connection, not the LISTEN one, so a link that went silent
// is noticed even when no notification was due.
func (db *DB) Head(ctx context.Context) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var v int64
	if err := db.pool.QueryRow(ctx, `SELECT v FROM portier_seq`).Scan(&v); err != nil {
		return 0, fmt.Errorf("pgstore: read the head sequence: %w", err)
	}
	return uint64(v), nil
}

package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/portier/portier/store"
)

var _ store.Locker = (*DB)(nil)

// lockKey is the advisory lock key of a named lock, scoped to the schema so
// that separate installations in one database never wait for each other.
const lockKey = `hashtextextended('portier_lock.' || current_schema() || '.' || $1, 0)`

// Lock takes a session advisory lock on a connection of its own and holds
// it until unlock is called (or the connection dies, when PostgreSQL
// releases it by itself). It waits for a holder in another process.
func (db *DB) Lock(ctx context.Context, name string) (func(), error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, db.connectError(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, name); err != nil {
		conn.Release()
		return nil, fmt.Errorf("pgstore: advisory lock %q: %w", name, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`, name); err != nil {
			// The lock must not outlive us on a pooled connection.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}

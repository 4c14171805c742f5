package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
)

var _ store.Locker = (*DB)(nil)

// lockKey is the advisory lock key of a named lock, scoped to the schema so
// that separate installations in one database never wait for each other.
const lockKey = `hashtextextended('portier_lock.' || current_schema() || '.' || $1, 0)`

// Lock takes a session advisory lock on a connection of its own (outside
// the pool, so the holder's own writes never wait for the connection that
// holds the lock) and keeps it until unlock is called, or until the
// connection dies, when PostgreSQL releases it by itself. It waits for a
// holder in another process.
func (db *DB) Lock(ctx context.Context, name string) (func(), error) {
	conn, err := pgx.ConnectConfig(ctx, db.listenCfg)
	if err != nil {
		return nil, db.connectError(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, name); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("pgstore: advisory lock %q: %w", name, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKey+`)`, name)
		closeConn(conn) // closing releases the lock in any case
	}, nil
}

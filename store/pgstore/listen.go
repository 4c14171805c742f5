package pgstore

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the LISTEN/NOTIFY channel; the payload is the highest
// sequence of the committing transaction.
const notifyChannel = "portier_changes"

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// idleCheck is how long the listener waits for a notification before it
	// pings its connection, to notice a half-open TCP connection.
	idleCheck = 30 * time.Second
)

// Notify returns the wake-up channel: it receives (without blocking the
// listener, at most one pending) when another process commits, and after
// the LISTEN connection is re-established, since notifications sent while
// it was down are lost. Wake-ups are hints; catch up with Since.
//
// Notifications for sequences at or below the highest one committed through
// this DB are dropped: whoever committed them through this DB catches up
// right after its Commit (store.Store does), and that catch-up also sees
// every commit before its own.
func (db *DB) Notify() <-chan struct{} { return db.wake }

func (db *DB) wakeUp() {
	select {
	case db.wake <- struct{}{}:
	default:
	}
}

// connectListener opens the dedicated, unpooled LISTEN connection.
func (db *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, db.listenCfg)
	if err != nil {
		return nil, db.connectError(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// listen owns the LISTEN connection until ctx ends, reconnecting with
// exponential backoff whenever it breaks.
func (db *DB) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(db.listenDone)
	backoff := minBackoff
	for {
		if conn == nil {
			c, err := db.connectListener(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				db.log.Warn("pgstore: cannot re-establish LISTEN; retrying", "in", backoff, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, maxBackoff)
				continue
			}
			conn, backoff = c, minBackoff
			db.log.Info("pgstore: LISTEN re-established", "server", db.where)
			db.wakeUp()
		}
		err := db.receive(ctx, conn)
		closeConn(conn)
		conn = nil
		if ctx.Err() != nil {
			return
		}
		db.log.Warn("pgstore: lost the LISTEN connection; reconnecting", "server", db.where, "err", err)
	}
}

// receive turns notifications into wake-ups until the connection fails.
func (db *DB) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, idleCheck)
		n, err := conn.WaitForNotification(wctx)
		idle := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			if seq, perr := strconv.ParseUint(n.Payload, 10, 64); perr != nil || seq > db.committed.Load() {
				db.wakeUp()
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case idle:
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

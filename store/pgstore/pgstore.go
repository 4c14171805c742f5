// Package pgstore is Portier's shared durable store on PostgreSQL, for
// running several Portier processes on one database.
//
// Every record lives in one table keyed by (kind, id) and carries the change
// sequence of its last write; deletes leave tombstones. Each process catches
// up by sequence (Since), woken by LISTEN/NOTIFY; notifications are only
// hints, the sequence is the truth. Sequence numbers are handed out in commit
// order, so a follower that has seen sequence n has seen everything before it.
//
// Tombstones are kept for TombstoneRetention, then pruned (prune.go); a
// process that has not caught up past a pruned tombstone (cut off from the
// database for that long) fails closed with ErrTooFarBehind until it is
// restarted and reloads.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/portier/portier/store"
)

const (
	// connectTimeout bounds one connection attempt unless the DSN sets
	// connect_timeout.
	connectTimeout = 10 * time.Second
	// pingTimeout bounds Ping when the caller's context has no deadline.
	pingTimeout = 2 * time.Second
	// opTimeout bounds Commit and Since when the caller's context has no
	// deadline: the store's single writer must not hang on a dead network.
	opTimeout = 15 * time.Second
)

// DB is the PostgreSQL backend. It is safe for concurrent use.
type DB struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	where string // host:port for error messages, never the password
	kinds map[store.Kind]bool

	// committed is the highest sequence committed through this DB; the
	// listener drops wake-ups for those (see Notify).
	committed atomic.Uint64
	// behind is set once Since found pruned deletes this process never
	// saw (logged once; see ErrTooFarBehind).
	behind atomic.Bool

	listenCfg  *pgx.ConnConfig
	wake       chan struct{}
	stopListen context.CancelFunc
	listenDone chan struct{}
	pruneDone  chan struct{}
	closeOnce  sync.Once
}

var _ store.Follower = (*DB)(nil)

// Open connects to the database named by dsn (a postgres:// URL or
// key=value string), applies the embedded schema migrations under an
// advisory lock, and starts listening for changes made by other processes.
// It refuses a database whose schema is newer than this Portier knows,
// unless every migration since is expand-only (a rolling upgrade: see
// migrationFS).
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	return OpenWith(ctx, dsn, log, Options{})
}

// Options are Open's settings beyond the DSN.
type Options struct {
	// KnownSchema, when > 0, makes this process act as a Portier that
	// knows only the first KnownSchema migrations: the previous release,
	// for testing that it runs beside the current one during a rolling
	// upgrade, or refuses with a clear message when it cannot.
	KnownSchema int
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, log *slog.Logger, o Options) (*DB, error) {
	all, err := known(o.KnownSchema)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: invalid PostgreSQL DSN: %w", err)
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = connectTimeout
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "portier"
	}
	db := &DB{
		log:        log,
		where:      endpoint(&cc.Config),
		kinds:      map[store.Kind]bool{},
		listenCfg:  cc.Copy(),
		wake:       make(chan struct{}, 1),
		listenDone: make(chan struct{}),
		pruneDone:  make(chan struct{}),
	}
	for _, k := range store.Kinds() {
		db.kinds[k] = true
	}
	db.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, db.connectError(err)
	}
	if err := db.pool.Ping(ctx); err != nil {
		db.pool.Close()
		return nil, db.connectError(err)
	}
	if err := db.migrate(ctx, all); err != nil {
		db.pool.Close()
		return nil, err
	}
	if err := db.moveLegacyAudit(ctx); err != nil {
		db.pool.Close()
		return nil, err
	}
	conn, err := db.connectListener(ctx)
	if err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("pgstore: LISTEN on PostgreSQL at %s: %w", db.where, err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	db.stopListen = cancel
	go db.listen(lctx, conn)
	go db.pruneLoop(lctx)
	return db, nil
}

// Close stops listening and closes every connection. It is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stopListen()
		<-db.listenDone
		<-db.pruneDone
		db.pool.Close()
	})
	return nil
}

// Ping runs SELECT 1 with a short timeout. A pooled connection that turns
// out to be dead is retried once on a fresh one, so Ping fails only when
// the server cannot be reached now.
func (db *DB) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	var err error
	for range 2 {
		if _, err = db.pool.Exec(ctx, "SELECT 1"); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("pgstore: PostgreSQL at %s is unreachable: %w", db.where, err)
	}
	return nil
}

// withTimeout gives ctx the default operation deadline if it has none.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, opTimeout)
}

// endpoint names the server for messages: host:port, or the socket path.
func endpoint(c *pgconn.Config) string {
	port := strconv.Itoa(int(c.Port))
	if strings.HasPrefix(c.Host, "/") {
		return c.Host + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(c.Host, port)
}

// connectError says whether the server could not be reached or refused us,
// naming it by address only: the DSN may hold a password.
func (db *DB) connectError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("pgstore: PostgreSQL at %s refused the connection: %s (SQLSTATE %s)", db.where, pgErr.Message, pgErr.Code)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && errors.Unwrap(ce) != nil {
		err = errors.Unwrap(ce)
	}
	return fmt.Errorf("pgstore: cannot reach PostgreSQL at %s: %w", db.where, err)
}

// PoolStat is a snapshot of the connection pool's statistics, for metrics.
func (db *DB) PoolStat() *pgxpool.Stat { return db.pool.Stat() }

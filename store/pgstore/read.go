package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
)

var _ store.ConcurrentLoader = (*DB)(nil)

// ValuesOutliveLoad marks DB as a store.ConcurrentLoader: the values Load
// hands out are copied from the rows, and the errors of fn are returned
// as they are.
func (db *DB) ValuesOutliveLoad() {}

// Load calls fn for every live record and returns the sequence they are
// consistent at (see readLive).
func (db *DB) Load(ctx context.Context, fn func(store.Change) error) (uint64, error) {
	return db.readLive(ctx, "load", false, nil, fn)
}

// readLive reads the counter and then every live record in one REPEATABLE
// READ, READ ONLY transaction, and returns the counter. Since sequences
// follow commit order (see commit.go), that snapshot holds exactly the
// changes up to the counter, whatever commits meanwhile. begin, if set, is
// called with the counter before the first record; ordered sorts the
// records by kind and id, bytewise (COLLATE "C", as the embedded store
// orders them).
func (db *DB) readLive(ctx context.Context, what string, ordered bool, begin func(uint64) error, fn func(store.Change) error) (uint64, error) {
	tx, err := db.begin(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only

	var top int64
	if err := tx.QueryRow(ctx, `SELECT v FROM portier_seq`).Scan(&top); err != nil {
		return 0, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	if begin != nil {
		if err := begin(uint64(top)); err != nil {
			return 0, err
		}
	}
	q := `SELECT seq, kind, id, value FROM portier_records WHERE NOT deleted`
	if !ordered {
		// The read model: history kinds are read with Scan.
		q += ` AND kind <> '` + string(store.KindRuleVersion) + `'`
	}
	if ordered {
		q += ` ORDER BY kind COLLATE "C", id COLLATE "C"`
	}
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c store.Change
		var seq int64
		var kind string
		if err := rows.Scan(&seq, &kind, &c.ID, &c.Value); err != nil {
			return 0, fmt.Errorf("pgstore: %s: %w", what, err)
		}
		c.Seq, c.Kind = uint64(seq), store.Kind(kind)
		if err := fn(c); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: %s: %w", what, err)
	}
	if ordered {
		// A snapshot for a backup carries the audit log too.
		if err := snapshotAudit(ctx, db, tx, uint64(top), fn); err != nil {
			return 0, err
		}
	}
	return uint64(top), nil
}

// Since returns up to limit changes with a sequence above seq, in sequence
// order. Deletes come back as tombstones: Deleted set, Value nil. A record
// written several times since seq appears once, at its latest sequence.
func (db *DB) Since(ctx context.Context, seq uint64, limit int) ([]store.Change, error) {
	if seq > math.MaxInt64 {
		return nil, fmt.Errorf("pgstore: since: sequence %d out of range", seq)
	}
	if limit <= 0 {
		limit = 1000
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	out, err := db.since(ctx, seq, limit)
	if err != nil && ctx.Err() == nil {
		// A read is safe to repeat: the first attempt may have drawn a
		// pooled connection the server had already closed.
		out, err = db.since(ctx, seq, limit)
	}
	return out, err
}

func (db *DB) since(ctx context.Context, seq uint64, limit int) ([]store.Change, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, kind, id, value, deleted FROM portier_records
		WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(seq), limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: since %d: %w", seq, err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var s int64
		var kind string
		if err := rows.Scan(&s, &kind, &c.ID, &c.Value, &c.Deleted); err != nil {
			return nil, fmt.Errorf("pgstore: since %d: %w", seq, err)
		}
		c.Seq, c.Kind = uint64(s), store.Kind(kind)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: since %d: %w", seq, err)
	}
	// Checked after the rows, in a later snapshot: if no tombstone above
	// seq had been pruned by now, none was missing from the rows read.
	var pruned int64
	if err := db.pool.QueryRow(ctx, `SELECT pruned FROM portier_seq`).Scan(&pruned); err != nil {
		return nil, fmt.Errorf("pgstore: since %d: %w", seq, err)
	}
	if int64(seq) < pruned {
		if db.behind.CompareAndSwap(false, true) {
			db.log.Error("pgstore: this process is too far behind the shared store and refuses every request until it is restarted",
				"seen_through", seq, "pruned_through", pruned, "err", ErrTooFarBehind)
		}
		return nil, fmt.Errorf("pgstore: since %d: deletes up to sequence %d were pruned: %w", seq, pruned, ErrTooFarBehind)
	}
	return out, nil
}

// begin starts a transaction, retrying once: the pool may hand out a
// connection the server has since closed (restart, failover,
// pg_terminate_backend), and a failed BEGIN has done nothing.
func (db *DB) begin(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil && ctx.Err() == nil {
		tx, err = db.pool.BeginTx(ctx, opts)
	}
	return tx, err
}

// Value reads the stored value of one live record straight from the
// database, outside the read model: for start-up to look at a record
// (a salt) while the read model is still loading. ok is false when the
// record does not exist or is deleted.
func (db *DB) Value(ctx context.Context, kind store.Kind, id string) (value []byte, ok bool, err error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	err = db.pool.QueryRow(ctx, `SELECT value FROM portier_records WHERE kind = $1 AND id = $2 AND NOT deleted`,
		string(kind), id).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgstore: read %s/%s: %w", kind, id, err)
	}
	return value, true, nil
}

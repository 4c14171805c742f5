package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
)

var (
	_ store.Snapshotter = (*DB)(nil)
	_ store.Importer    = (*DB)(nil)
)

// Snapshot streams every live record, ordered by kind and id, from one
// consistent read (see readLive).
func (db *DB) Snapshot(ctx context.Context, begin func(seq uint64) error, fn func(store.Change) error) error {
	_, err := db.readLive(ctx, "snapshot", true, begin, fn)
	return err
}

// Import fills an empty database in one transaction, streaming the records
// with COPY. It takes the counter's row lock first, like Commit, so no
// other process can commit between the emptiness check and the import.
// Tombstones count as content: a database that ever held records is not
// empty, since processes following it may still depend on its history.
func (db *DB) Import(ctx context.Context, seq uint64, next func() (store.Change, error)) error {
	if seq > math.MaxInt64 {
		return fmt.Errorf("pgstore: import: sequence %d out of range", seq)
	}
	tx, err := db.begin(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op

	var cur int64
	if err := tx.QueryRow(ctx, `SELECT v FROM portier_seq FOR UPDATE`).Scan(&cur); err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	if err := db.checkEmpty(ctx, tx); err != nil {
		return err
	}
	src := &importSource{next: next, seq: cur, kinds: db.kinds}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"portier_records"}, []string{"kind", "id", "value", "seq", "deleted"}, src)
	if src.err != nil {
		return src.err // the reason, not PostgreSQL's report of the aborted COPY
	}
	if err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	if err := importAudit(ctx, tx, src.audit); err != nil {
		return err
	}
	top := max(src.seq, int64(seq))
	if _, err := tx.Exec(ctx, `UPDATE portier_seq SET v = $1`, top); err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlNotify); err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: import: commit: %w", err)
	}
	db.noteCommitted(uint64(top))
	return nil
}

// checkEmpty fails with ErrNotEmpty, naming what is there, when the
// database holds any row, live or deleted.
func (db *DB) checkEmpty(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT kind, deleted, count(*) FROM portier_records
		GROUP BY kind, deleted ORDER BY kind COLLATE "C", deleted`)
	if err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	var held []string
	for rows.Next() {
		var kind string
		var deleted bool
		var n int64
		if err := rows.Scan(&kind, &deleted, &n); err != nil {
			return fmt.Errorf("pgstore: import: %w", err)
		}
		if deleted {
			kind = "deleted " + kind
		}
		held = append(held, fmt.Sprintf("%d %s", n, kind))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	var audit int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM portier_audit`).Scan(&audit); err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	if audit > 0 {
		held = append(held, fmt.Sprintf("%d audit", audit))
	}
	if len(held) > 0 {
		return fmt.Errorf("pgstore: the database at %s: %w: it holds %s records", db.where, store.ErrNotEmpty, strings.Join(held, ", "))
	}
	return nil
}

// importSource feeds COPY from next, numbering the rows after the counter.
type importSource struct {
	next  func() (store.Change, error)
	kinds map[store.Kind]bool
	seq   int64
	row   []any
	err   error
	// audit holds the audit log's changes, written after the records.
	audit []store.Change
}

func (s *importSource) Next() bool {
	c, err := s.next()
	for err == nil && (c.Kind == store.KindAudit || c.Kind == store.KindAuditChain) && c.Value != nil {
		c.Value = bytes.Clone(c.Value)
		s.audit = append(s.audit, c)
		c, err = s.next()
	}
	switch {
	case errors.Is(err, io.EOF):
		return false
	case err != nil:
		s.err = err
		return false
	case c.ID == "" || c.Value == nil:
		s.err = fmt.Errorf("pgstore: import: %s record without id or value", c.Kind)
		return false
	case !s.kinds[c.Kind]:
		s.err = fmt.Errorf("pgstore: import: unknown kind %q", c.Kind)
		return false
	}
	s.seq++
	s.row = []any{string(c.Kind), c.ID, c.Value, s.seq, false}
	return true
}

func (s *importSource) Values() ([]any, error) { return s.row, nil }

func (s *importSource) Err() error { return s.err }

package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
)

// The audit log is the table portier_audit, one row per event in chain
// order; the chain's head and anchor are columns of the counter row (see
// migration 0004). A Commit that carries audit events reads the head after
// taking the counter's row lock, so concurrent committers, on any number of
// processes, append to one linear chain in commit order.

var _ store.AuditLog = (*DB)(nil)

const (
	sqlBumpAudit = `UPDATE portier_seq SET v = v + $1 RETURNING v, audit_seq, audit_hash`
	sqlAppend    = `INSERT INTO portier_audit (seq, id, at, actor, action, target, entry)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::bytea[])`
	sqlSetHead = `UPDATE portier_seq SET audit_seq = $1, audit_hash = $2`
)

// column makes s storable in a text column: PostgreSQL refuses NUL bytes,
// and a NUL sent by a client must not make the change it audits fail. The
// entry itself keeps the exact (sealed) strings.
func column(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }

// auditRows are sealed events ready for sqlAppend or COPY.
type auditRows struct {
	seq                       []int64
	id, actor, action, target []string
	at                        []time.Time
	entry                     [][]byte
}

func (r *auditRows) add(ev *store.AuditEvent, enc []byte) {
	r.seq = append(r.seq, int64(ev.Seq))
	r.id = append(r.id, column(ev.ID))
	r.at = append(r.at, ev.At)
	r.actor = append(r.actor, column(ev.Actor))
	r.action = append(r.action, column(ev.Action))
	r.target = append(r.target, column(ev.Target))
	r.entry = append(r.entry, enc)
}

func (r *auditRows) copySource() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(r.seq), func(i int) ([]any, error) {
		return []any{r.seq[i], r.id[i], r.at[i], r.actor[i], r.action[i], r.target[i], r.entry[i]}, nil
	})
}

var auditColumns = []string{"seq", "id", "at", "actor", "action", "target", "entry"}

// seal appends the events encoded in values to the chain at head.
func seal(values [][]byte, head store.AuditLink) (*auditRows, store.AuditLink, error) {
	rows := &auditRows{}
	for _, v := range values {
		ev, enc, err := store.SealAudit(v, head)
		if err != nil {
			return nil, head, err
		}
		rows.add(ev, enc)
		head = store.AuditLink{Seq: ev.Seq, Hash: ev.Hash}
	}
	return rows, head, nil
}

// commitAudit is Commit for a transaction that carries audit events: the
// counter lock first, then the head it protects, then the sealed events,
// the records (rest) and the new head, in one transaction.
func (db *DB) commitAudit(ctx context.Context, n int, audit [][]byte, rest func(*pgx.Batch)) (uint64, error) {
	tx, err := db.begin(ctx, pgx.TxOptions{})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	var top int64
	var head store.AuditLink
	var hseq int64
	if err := tx.QueryRow(ctx, sqlBumpAudit, n).Scan(&top, &hseq, &head.Hash); err != nil {
		return 0, err
	}
	head.Seq = uint64(hseq)
	rows, head, err := seal(audit, head)
	if err != nil {
		return 0, err
	}
	b := &pgx.Batch{}
	rest(b)
	b.Queue(sqlAppend, rows.seq, rows.id, rows.at, rows.actor, rows.action, rows.target, rows.entry)
	b.Queue(sqlSetHead, int64(head.Seq), head.Hash)
	b.Queue(sqlNotify)
	br := tx.SendBatch(ctx, b)
	for range b.Len() {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return uint64(top), nil
}

// QueryAudit reads one page of the audit log with the filters in SQL, on
// the table's indexes (see windowAtCursor for a time window).
func (db *DB) QueryAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if !q.Since.IsZero() {
		arg("at >= $%d", q.Since)
	}
	if !q.Until.IsZero() {
		arg("at < $%d", q.Until)
	}
	if q.Actor != "" {
		arg("actor = $%d", column(q.Actor))
	}
	if q.Target != "" {
		arg("target = $%d", column(q.Target))
	}
	if p, ok := q.ActionPrefix(); ok {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(column(p))
		arg(`action LIKE $%d`, esc+"%")
	} else if q.Action != "" {
		arg("action = $%d", column(q.Action))
	}
	order := "DESC"
	if q.Ascending {
		order = "ASC"
		arg("seq > $%d", int64(min(q.After, 1<<62)))
	} else if q.After > 0 {
		arg("seq < $%d", int64(min(q.After, 1<<62)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.PageLimit())
	sql := fmt.Sprintf("SELECT seq, entry FROM portier_audit%s ORDER BY seq %s LIMIT $%d", cond, order, len(args))
	if (!q.Since.IsZero() || !q.Until.IsZero()) && q.Actor == "" && q.Target == "" {
		dense, err := db.windowAtCursor(ctx, q)
		if err != nil {
			return nil, err
		}
		if !dense {
			sql = fmt.Sprintf(`WITH w AS MATERIALIZED (SELECT seq FROM portier_audit%s)
				SELECT seq, entry FROM portier_audit WHERE seq IN (SELECT seq FROM w ORDER BY seq %s LIMIT $%d) ORDER BY seq %s`,
				cond, order, len(args), order)
		}
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: query audit: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEvent
	for rows.Next() {
		var b []byte
		var pos int64
		if err := rows.Scan(&pos, &b); err != nil {
			return nil, fmt.Errorf("pgstore: query audit: %w", err)
		}
		var ev store.AuditEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, fmt.Errorf("pgstore: audit entry %d is corrupt: %w", pos, err)
		}
		ev.Pos = uint64(pos)
		out = append(out, &ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: query audit: %w", err)
	}
	return out, nil
}

// windowAtCursor reports whether the first event past q's cursor (in q's
// order) lies in q's time window. The planner cannot know that the log is
// in time order: asked for a window newest first, it walks the primary key
// from the cursor and checks each row's time, which reads every row down
// to a window far back. When the window does not start at the cursor,
// QueryAudit reads the window's rows from the (at, seq) index first and
// sorts them by position; when it does, the walk finds matches at once.
func (db *DB) windowAtCursor(ctx context.Context, q store.AuditQuery) (bool, error) {
	sql := `SELECT at FROM portier_audit WHERE seq < $1 ORDER BY seq DESC LIMIT 1`
	from := int64(1 << 62)
	if q.Ascending {
		sql = `SELECT at FROM portier_audit WHERE seq > $1 ORDER BY seq LIMIT 1`
		from = int64(min(q.After, 1<<62))
	} else if q.After > 0 {
		from = int64(min(q.After, 1<<62))
	}
	var at time.Time
	err := db.pool.QueryRow(ctx, sql, from).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("pgstore: query audit: %w", err)
	}
	return store.AuditQuery{Since: q.Since, Until: q.Until}.Match(&store.AuditEvent{At: at}), nil
}

// AuditChain reads the chain's anchor and head.
func (db *DB) AuditChain(ctx context.Context) (store.AuditChain, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return db.auditChain(ctx, db.pool.QueryRow)
}

func (db *DB) auditChain(ctx context.Context, queryRow func(context.Context, string, ...any) pgx.Row) (store.AuditChain, error) {
	ch := store.AuditChain{ID: store.AuditChainID}
	var as, hs int64
	err := queryRow(ctx, `SELECT audit_anchor_seq, audit_anchor_hash, audit_seq, audit_hash FROM portier_seq`).
		Scan(&as, &ch.Anchor.Hash, &hs, &ch.Head.Hash)
	if err != nil {
		return ch, fmt.Errorf("pgstore: audit chain: %w", err)
	}
	ch.Anchor.Seq, ch.Head.Seq = uint64(as), uint64(hs)
	return ch, nil
}

// PruneAudit removes the oldest events older than before, at most limit, in
// one transaction that holds the counter lock (so it never races a commit
// or another process pruning), and moves the anchor to the last removed.
func (db *DB) PruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	tx, err := db.begin(ctx, pgx.TxOptions{})
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it does nothing
	if _, err := tx.Exec(ctx, `SELECT 1 FROM portier_seq FOR UPDATE`); err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	// The cut is the last event of the oldest run older than before.
	var cut *int64
	var n int
	err = tx.QueryRow(ctx, `WITH head AS (SELECT seq, at FROM portier_audit ORDER BY seq LIMIT $2),
			stop AS (SELECT min(seq) AS s FROM head WHERE at >= $1)
		SELECT max(seq), count(*) FROM head, stop WHERE stop.s IS NULL OR head.seq < stop.s`, before, limit).Scan(&cut, &n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	if cut == nil || n == 0 {
		return 0, nil
	}
	var entry []byte
	if err := tx.QueryRow(ctx, `SELECT entry FROM portier_audit WHERE seq = $1`, *cut).Scan(&entry); err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	var last store.AuditEvent
	if err := json.Unmarshal(entry, &last); err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: audit entry %d is corrupt: %w", *cut, err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM portier_audit WHERE seq <= $1`, *cut)
	if err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE portier_seq SET audit_anchor_seq = $1, audit_anchor_hash = $2`, *cut, last.Hash); err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("pgstore: prune audit: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// snapshotAudit streams the chain record and the events, in Seq order, from
// the snapshot's transaction.
func snapshotAudit(ctx context.Context, db *DB, tx pgx.Tx, seq uint64, fn func(store.Change) error) error {
	ch, err := db.auditChain(ctx, tx.QueryRow)
	if err != nil {
		return err
	}
	if err := store.EmitAuditChain(ch, seq, fn); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT entry FROM portier_audit ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("pgstore: snapshot audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("pgstore: snapshot audit: %w", err)
		}
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			return fmt.Errorf("pgstore: snapshot audit: %w", err)
		}
		if err := fn(store.Change{Seq: seq, Kind: store.KindAudit, ID: ev.ID, Value: b}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// importAudit writes the audit changes of a backup, in the order they came
// (see store.Importer): the chain record sets anchor and head, sealed
// events are stored as they are, events without a position are sealed onto
// the head.
func importAudit(ctx context.Context, tx pgx.Tx, changes []store.Change) error {
	if len(changes) == 0 {
		return nil
	}
	var ch store.AuditChain
	rows := &auditRows{}
	for _, c := range changes {
		if c.Kind == store.KindAuditChain {
			if ch.Head.Seq > 0 || len(rows.seq) > 0 {
				return errors.New("pgstore: import: the audit chain record comes after audit events")
			}
			if err := json.Unmarshal(c.Value, &ch); err != nil {
				return fmt.Errorf("pgstore: import: audit chain: %w", err)
			}
			continue
		}
		var ev store.AuditEvent
		if err := json.Unmarshal(c.Value, &ev); err != nil {
			return fmt.Errorf("pgstore: import: audit/%s: %w", c.ID, err)
		}
		v := c.Value
		if ev.Seq == 0 {
			sealed, enc, err := store.SealAudit(c.Value, ch.Head)
			if err != nil {
				return err
			}
			ev, v = *sealed, enc
		}
		rows.add(&ev, v)
		if ev.Seq > ch.Head.Seq {
			ch.Head = store.AuditLink{Seq: ev.Seq, Hash: ev.Hash}
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"portier_audit"}, auditColumns, rows.copySource()); err != nil {
		return fmt.Errorf("pgstore: import audit: %w", err)
	}
	_, err := tx.Exec(ctx, `UPDATE portier_seq SET audit_seq = $1, audit_hash = $2, audit_anchor_seq = $3, audit_anchor_hash = $4`,
		int64(ch.Head.Seq), ch.Head.Hash, int64(ch.Anchor.Seq), ch.Anchor.Hash)
	if err != nil {
		return fmt.Errorf("pgstore: import audit: %w", err)
	}
	return nil
}

// moveLegacyAudit moves audit events that an earlier Portier kept as
// records (kind "audit" in portier_records) into the chained log, oldest
// first, under the counter lock. It runs at Open; it does nothing once they
// are moved.
func (db *DB) moveLegacyAudit(ctx context.Context) error {
	var any bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM portier_records WHERE kind = 'audit')`).Scan(&any); err != nil {
		return fmt.Errorf("pgstore: move audit events: %w", err)
	}
	if !any {
		return nil
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var head store.AuditLink
		var hseq int64
		if err := tx.QueryRow(ctx, `SELECT audit_seq, audit_hash FROM portier_seq FOR UPDATE`).Scan(&hseq, &head.Hash); err != nil {
			return err
		}
		head.Seq = uint64(hseq)
		r, err := tx.Query(ctx, `SELECT value FROM portier_records WHERE kind = 'audit' AND NOT deleted ORDER BY id COLLATE "C"`)
		if err != nil {
			return err
		}
		var values [][]byte
		for r.Next() {
			var v []byte
			if err := r.Scan(&v); err != nil {
				r.Close()
				return err
			}
			values = append(values, v)
		}
		r.Close()
		if err := r.Err(); err != nil {
			return err
		}
		rows, head, err := seal(values, head)
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"portier_audit"}, auditColumns, rows.copySource()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlSetHead, int64(head.Seq), head.Hash); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM portier_records WHERE kind = 'audit'`)
		if err == nil {
			db.log.Info("pgstore: moved the audit events into the audit log", "count", len(values))
		}
		return err
	})
}

package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/portier/portier/store"
)

// The change sequence must follow COMMIT order, not the order in which
// transactions start. With a plain sequence (SERIAL, nextval) a transaction
// holding 10 may commit after one holding 11; a follower that already read 11
// would then ask for "seq > 11" and skip 10 forever.
//
// So every Commit first takes the row lock on the one-row counter
// (UPDATE portier_seq SET v = v + n). The lock is held until the transaction
// ends, which serializes committers: the next one gets its numbers only
// after this one has committed (or rolled back, undoing its increment, so no
// gaps either). Any snapshot that sees sequence n therefore sees every
// sequence below n. The Create check runs after the lock is taken, so in
// READ COMMITTED it sees every earlier committer's rows.
//
// The transaction is one pipelined batch ending in a single Sync, which
// PostgreSQL runs as one implicit transaction: all statements commit
// together at the Sync, or an error in any rolls them all back. That is one
// network round trip per Commit.
const (
	sqlBump = `UPDATE portier_seq SET v = v + $1 RETURNING v`

	sqlCheckAbsent  = `SELECT portier_check_absent($1::text[], $2::text[])`
	sqlCheckPresent = `SELECT portier_check_present($1::text[], $2::text[])`
	sqlCheckVersion = `SELECT portier_check_version($1::text[], $2::text[], $3::bigint[])`

	// Sequences are computed from the counter this transaction just
	// raised: the i-th mutation (ord = i+1) of n gets v - n + ord.
	sqlUpsert = `INSERT INTO portier_records (kind, id, value, seq, deleted, changed_at)
		SELECT t.kind, t.id, t.value, s.v - $5 + t.ord, t.value IS NULL, now()
		FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[]) AS t(kind, id, value, ord), portier_seq s
		ON CONFLICT (kind, id) DO UPDATE
		SET value = excluded.value, seq = excluded.seq, deleted = excluded.deleted, changed_at = excluded.changed_at`

	// NOTIFY is delivered when (and only if) the transaction commits.
	sqlNotify = `SELECT pg_notify('` + notifyChannel + `', v::text) FROM portier_seq`
)

// sqlstateExists is raised by portier_check_absent, sqlstateMissing by
// portier_check_present (see the migrations).
const (
	sqlstateExists  = "PT409"
	sqlstateMissing = "PT404"
	sqlstateVersion = "PT412"
)

type recKey struct {
	kind store.Kind
	id   string
}

// Commit writes muts in one transaction, all or none, and notifies the
// other processes. A Create mutation whose record is live (in the database
// or earlier in muts) fails the whole Commit with an error wrapping
// store.ErrExists.
func (db *DB) Commit(ctx context.Context, muts []store.Mutation) ([]store.Change, error) {
	if len(muts) == 0 {
		return nil, nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()

	// Resolve Creates against earlier mutations in muts here; only a
	// Create that is the first touch of its record asks the database.
	// Only the last write to each record is stored; the earlier ones keep
	// their sequence numbers in the returned changes (unused gaps for
	// followers, which never need contiguous sequences).
	last := make(map[recKey]int, len(muts))
	var absentKinds, absentIDs, presentKinds, presentIDs, versionKinds, versionIDs []string
	var versions []int64
	var audit [][]byte
	for i, m := range muts {
		if m.Kind == store.KindAudit || m.Kind == store.KindAuditChain {
			if m.Kind != store.KindAudit || m.Value == nil {
				return nil, fmt.Errorf("pgstore: %s/%s: the audit log is append-only", m.Kind, m.ID)
			}
			audit = append(audit, m.Value)
			continue
		}
		if !db.kinds[m.Kind] {
			return nil, fmt.Errorf("pgstore: unknown kind %q", m.Kind)
		}
		k := recKey{m.Kind, m.ID}
		prev, touched := last[k]
		if m.CheckVersion {
			if touched {
				// Checked against the earlier write of this batch.
				if err := store.CheckStoredVersion(m, muts[prev].Value); err != nil {
					return nil, fmt.Errorf("pgstore: %w", err)
				}
			} else {
				versionKinds, versionIDs = append(versionKinds, string(m.Kind)), append(versionIDs, m.ID)
				versions = append(versions, int64(m.IfVersion))
			}
		}
		switch {
		case m.Update && !touched:
			presentKinds, presentIDs = append(presentKinds, string(m.Kind)), append(presentIDs, m.ID)
		case m.Update && muts[prev].Value == nil:
			return nil, fmt.Errorf("pgstore: %s/%s: %w", m.Kind, m.ID, store.ErrNotFound)
		case !m.Create:
		case !touched:
			absentKinds, absentIDs = append(absentKinds, string(m.Kind)), append(absentIDs, m.ID)
		case muts[prev].Value != nil:
			return nil, fmt.Errorf("pgstore: %s/%s: %w", m.Kind, m.ID, store.ErrExists)
		}
		last[k] = i
	}
	n := len(last)
	kinds, ids := make([]string, 0, n), make([]string, 0, n)
	values, ords := make([][]byte, 0, n), make([]int64, 0, n)
	for i, m := range muts {
		if j, ok := last[recKey{m.Kind, m.ID}]; ok && j == i {
			kinds, ids = append(kinds, string(m.Kind)), append(ids, m.ID)
			values, ords = append(values, m.Value), append(ords, int64(i+1))
		}
	}

	rest := func(b *pgx.Batch) {
		if len(absentIDs) > 0 {
			b.Queue(sqlCheckAbsent, absentKinds, absentIDs)
		}
		if len(presentIDs) > 0 {
			b.Queue(sqlCheckPresent, presentKinds, presentIDs)
		}
		if len(versionIDs) > 0 {
			b.Queue(sqlCheckVersion, versionKinds, versionIDs, versions)
		}
		if len(kinds) > 0 {
			b.Queue(sqlUpsert, kinds, ids, values, ords, len(muts))
		}
	}
	var top uint64
	var err error
	if len(audit) > 0 {
		// The chain's head must be read under the counter lock: an
		// explicit transaction (two more round trips).
		top, err = db.commitAudit(ctx, len(muts), audit, rest)
	} else {
		b := &pgx.Batch{}
		b.Queue(sqlBump, len(muts))
		rest(b)
		b.Queue(sqlNotify)
		top, err = db.send(ctx, b)
		if err != nil && pgconn.SafeToRetry(err) && ctx.Err() == nil {
			// Nothing reached the server (a pooled connection it had closed).
			top, err = db.send(ctx, b)
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateExists {
		return nil, fmt.Errorf("pgstore: %s: %w", pgErr.Message, store.ErrExists)
	}
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateMissing {
		return nil, fmt.Errorf("pgstore: %s: %w", pgErr.Message, store.ErrNotFound)
	}
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateVersion {
		return nil, fmt.Errorf("pgstore: %s: %w", pgErr.Message, store.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: commit: %w", err)
	}
	db.noteCommitted(top)

	first := top - uint64(len(muts)) + 1
	changes := make([]store.Change, len(muts))
	for i, m := range muts {
		changes[i] = store.Change{Seq: first + uint64(i), Kind: m.Kind, ID: m.ID, Value: m.Value, Deleted: m.Value == nil}
	}
	return changes, nil
}

// send runs the commit batch and returns the new top of the sequence. The
// batch is committed only if every result, up to the final Sync, is good.
func (db *DB) send(ctx context.Context, b *pgx.Batch) (uint64, error) {
	br := db.pool.SendBatch(ctx, b)
	var top int64
	err := br.QueryRow().Scan(&top)
	for range b.Len() - 1 {
		if err != nil {
			break
		}
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return uint64(top), err
}

// noteCommitted raises the highest sequence committed through this DB.
func (db *DB) noteCommitted(seq uint64) {
	for {
		cur := db.committed.Load()
		if seq <= cur || db.committed.CompareAndSwap(cur, seq) {
			return
		}
	}
}

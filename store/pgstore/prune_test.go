package pgstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// ageTombstones makes every tombstone look deleted a month ago.
func ageTombstones(t *testing.T, db *DB) {
	t.Helper()
	if _, err := db.pool.Exec(context.Background(),
		`UPDATE portier_records SET changed_at = now() - interval '30 days' WHERE deleted`); err != nil {
		t.Fatal(err)
	}
}

// Old tombstones go; recent ones, and live records however old, stay. A
// follower that is caught up keeps following; one that had not seen a
// pruned delete is refused with ErrTooFarBehind instead of silently
// keeping a record that was deleted.
func TestPruneTombstones(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db := openDB(t, dsn)
	st := openStore(t, db)
	for _, id := range []string{"old-a", "old-b", "kept"} {
		if err := st.Write(ctx, store.Put(&store.Device{ID: id})); err != nil {
			t.Fatal(err)
		}
	}
	behind := st.Seq() // a follower that saw the creates but not the deletes
	if err := st.Write(ctx, store.Delete(store.KindDevice, "old-a"), store.Delete(store.KindDevice, "old-b")); err != nil {
		t.Fatal(err)
	}
	lastOld := st.Seq()
	ageTombstones(t, db)
	if err := st.Write(ctx, store.Put(&store.Device{ID: "recent"})); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Delete(store.KindDevice, "recent")); err != nil {
		t.Fatal(err)
	}

	n, err := db.Prune(ctx, time.Now().Add(-TombstoneRetention))
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 old tombstones", n, err)
	}
	var rows []string
	r, err := db.pool.Query(ctx, `SELECT id || ':' || deleted::text FROM portier_records ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		r.Scan(&s)
		rows = append(rows, s)
	}
	r.Close()
	if got := strings.Join(rows, " "); got != "kept:false recent:true" {
		t.Errorf("rows after pruning = %q, want the live record and the recent tombstone", got)
	}
	var pruned int64
	if err := db.pool.QueryRow(ctx, `SELECT pruned FROM portier_seq`).Scan(&pruned); err != nil || uint64(pruned) != lastOld {
		t.Errorf("pruned mark = %d, %v; want %d", pruned, err, lastOld)
	}
	if n, err := db.Prune(ctx, time.Now().Add(-TombstoneRetention)); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v; want nothing left to do", n, err)
	}

	if _, err := db.Since(ctx, lastOld, 10); err != nil {
		t.Errorf("Since(caught up) = %v", err)
	}
	if _, err := db.Since(ctx, behind, 10); !errors.Is(err, ErrTooFarBehind) {
		t.Errorf("Since(behind the pruned deletes) = %v, want ErrTooFarBehind", err)
	}

	// The running store is caught up and keeps working; a new process
	// loads the current state.
	if err := st.Write(ctx, store.Put(&store.Device{ID: "after"})); err != nil {
		t.Fatalf("write after pruning: %v", err)
	}
	if err := st.LastError(); err != nil {
		t.Errorf("store health after pruning: %v", err)
	}
	fresh := openStore(t, openDB(t, dsn))
	if _, ok := fresh.Device("old-a"); ok {
		t.Error("a new process sees a deleted device")
	}
	if _, ok := fresh.Device("after"); !ok {
		t.Error("a new process misses a live device")
	}
}

// A process that had not seen a delete whose tombstone was pruned (it was
// cut off for longer than the retention) fails closed: its store reports
// the error (the proxy answers 503, /readyz fails) rather than going on
// with the deleted record.
func TestFollowerBehindPrunedDeleteFailsClosed(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, b := openStore(t, openDB(t, dsn)), openStore(t, openDB(t, dsn))
	if err := a.Write(ctx, store.Put(&store.Device{ID: "lost"})); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, b, "lost", 2*time.Second)
	// The end state of a delete made while B was away and pruned since,
	// in one transaction, so B cannot catch the tombstone in between.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, `BEGIN;
		UPDATE portier_seq SET v = v + 1, pruned = v + 1;
		DELETE FROM portier_records WHERE kind = 'device' AND id = 'lost';
		COMMIT`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for b.LastError() == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.LastError(); !errors.Is(err, ErrTooFarBehind) || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("B's health = %v, want ErrTooFarBehind telling to restart", err)
	}
}

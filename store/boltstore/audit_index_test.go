package boltstore_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

var indexBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openAt(t *testing.T, path string, opts ...boltstore.Option) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// wantSizes are the index sizes the log's events call for: one actor and
// one time key each, one target key for each event with a target.
func wantSizes(t *testing.T, db *boltstore.DB) [3]int {
	t.Helper()
	var s [3]int
	q := store.AuditQuery{Ascending: true}
	for {
		page, err := db.QueryAudit(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return s
		}
		for _, ev := range page {
			s[0]++
			s[2]++
			if ev.Target != "" {
				s[1]++
			}
		}
		q.After = page[len(page)-1].Pos
	}
}

func checkSizes(t *testing.T, db *boltstore.DB) {
	t.Helper()
	got, err := boltstore.AuditIndexSizes(db)
	if err != nil {
		t.Fatal(err)
	}
	if want := wantSizes(t, db); got != want {
		t.Errorf("index sizes (actor, target, time) = %v, want %v", got, want)
	}
}

// The planner reads each filter from its index, and every plan gives the
// answer the whole log gives.
func TestAuditIndexPlans(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "portier.db"))
	defer db.Close()
	storetest.FillAuditVaried(t, db, 300)
	m := func(n int) time.Time { return indexBase.Add(time.Duration(n) * time.Minute) }
	cases := []struct {
		small uint64
		q     store.AuditQuery
		want  string
	}{
		{10000, store.AuditQuery{}, "log"},
		{10000, store.AuditQuery{Action: "device."}, "log"},
		{10000, store.AuditQuery{Target: "d1", Actor: "system"}, "target"},
		{10000, store.AuditQuery{Actor: "system"}, "actor"},
		{10000, store.AuditQuery{Actor: "system", Since: m(10), Until: m(20)}, "time"},
		{0, store.AuditQuery{Actor: "system", Since: m(10), Until: m(20)}, "actor"},
		{0, store.AuditQuery{Until: m(20)}, "time"},
		{0, store.AuditQuery{Since: m(100)}, "log"},
		{0, store.AuditQuery{Since: m(100), Ascending: true}, "time"},
	}
	for _, tc := range cases {
		boltstore.SetSmallTimeWindow(db, tc.small)
		if got, err := boltstore.AuditPlan(db, tc.q); err != nil || got != tc.want {
			t.Errorf("plan for %+v (small window %d) = %q, %v; want %q", tc.q, tc.small, got, err, tc.want)
		}
	}
	for _, small := range []uint64{0, 10000} {
		boltstore.SetSmallTimeWindow(db, small)
		storetest.CheckAuditIndexes(t, db)
	}
	checkSizes(t, db)
}

// Pruning removes the pruned events' index entries.
func TestAuditPruneRemovesIndexEntries(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "portier.db"))
	defer db.Close()
	storetest.FillAuditVaried(t, db, 300)
	before, _ := boltstore.AuditIndexSizes(db)
	n, err := db.PruneAudit(context.Background(), indexBase.Add(70*time.Minute), 1000)
	if err != nil || n == 0 {
		t.Fatalf("PruneAudit = %d, %v", n, err)
	}
	after, _ := boltstore.AuditIndexSizes(db)
	if after[0] != before[0]-n || after[2] != before[2]-n {
		t.Errorf("after pruning %d events, the actor and time indexes went from %v to %v", n, before, after)
	}
	checkSizes(t, db)
	storetest.CheckAuditIndexes(t, db)
}

// A file written before the indexes existed gets them at open, in
// batches that resume after an interruption, and says so in the log.
func TestAuditIndexBuiltFromAnOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portier.db")
	db := openAt(t, path)
	storetest.FillAuditVaried(t, db, 300)
	if err := boltstore.DropAuditIndexes(db); err != nil {
		t.Fatal(err)
	}
	// Without a complete index every query walks the log, and is right.
	if got, _ := boltstore.AuditPlan(db, store.AuditQuery{Actor: "system"}); got != "log" {
		t.Errorf("plan with no index = %q, want log", got)
	}
	storetest.CheckAuditIndexes(t, db)
	// A build cut short after its first batch.
	if n, err := boltstore.IndexAuditBatch(db, 120); err != nil || n != 120 {
		t.Fatalf("first batch = %d, %v; want 120", n, err)
	}
	if got, _ := boltstore.AuditPlan(db, store.AuditQuery{Actor: "system"}); got != "log" {
		t.Errorf("plan with a partial index = %q, want log", got)
	}
	db.Close()

	var logged bytes.Buffer
	db = openAt(t, path, boltstore.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	defer db.Close()
	if !strings.Contains(logged.String(), "msg=\"boltstore: indexed the audit log\" entries=180") {
		t.Errorf("the build at open logged %q, want the 180 entries left", logged.String())
	}
	if got, _ := boltstore.AuditPlan(db, store.AuditQuery{Actor: "system"}); got != "actor" {
		t.Errorf("plan after the build = %q, want actor", got)
	}
	checkSizes(t, db)
	storetest.CheckAuditIndexes(t, db)
	// Appending after the build keeps the index complete.
	storetest.FillAuditVaried(t, db, 20)
	if got, _ := boltstore.AuditPlan(db, store.AuditQuery{Actor: "system"}); got != "actor" {
		t.Errorf("plan after appending = %q, want actor", got)
	}
	checkSizes(t, db)
	storetest.CheckAuditIndexes(t, db)

	// A complete index is not built again.
	db.Close()
	logged.Reset()
	db = openAt(t, path, boltstore.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if logged.Len() != 0 {
		t.Errorf("reopening logged %q, want nothing", logged.String())
	}
}

// A backup carries no index: a restore writes it anew, and the restored
// store answers as the original does.
func TestAuditIndexAfterRestore(t *testing.T) {
	ctx := context.Background()
	src := openAt(t, filepath.Join(t.TempDir(), "src.db"))
	defer src.Close()
	storetest.FillAuditVaried(t, src, 300)
	if _, err := src.PruneAudit(ctx, indexBase.Add(30*time.Minute), 1000); err != nil {
		t.Fatal(err)
	}
	var snap []store.Change
	err := src.Snapshot(ctx, func(uint64) error { return nil }, func(c store.Change) error {
		c.Value = bytes.Clone(c.Value)
		snap = append(snap, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := openAt(t, filepath.Join(t.TempDir(), "dst.db"))
	defer dst.Close()
	i := 0
	err = dst.Import(ctx, 0, func() (store.Change, error) {
		if i == len(snap) {
			return store.Change{}, io.EOF
		}
		i++
		return snap[i-1], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := boltstore.AuditPlan(dst, store.AuditQuery{Target: "d1"}); got != "target" {
		t.Errorf("plan after a restore = %q, want target", got)
	}
	checkSizes(t, dst)
	storetest.CheckAuditIndexes(t, dst)
}

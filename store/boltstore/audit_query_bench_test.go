package boltstore_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

// auditBenchEvents is the size of the audit log of the 1M benchmarks.
const auditBenchEvents = 1_000_000

// BenchmarkAuditQuery1M measures the queries of GET /api/v1/audit (a page
// of 100, newest first, with each filter and a cursor) on a store whose
// audit log holds 1,000,000 events. Writing them takes a few minutes, so
// it runs only with -bench. It also logs the file's size and how long
// building the indexes of the million events takes at open:
//
//	go test ./store/boltstore -run XXX -bench BenchmarkAuditQuery1M -benchtime 20x
func BenchmarkAuditQuery1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "portier.db")
	db, err := boltstore.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	storetest.FillAudit(b, db, auditBenchEvents)
	db.Close()
	if fi, err := os.Stat(path); err == nil {
		b.Logf("store file with %d audit events: %d MiB", auditBenchEvents, fi.Size()>>20)
	}
	// Time the index build an upgraded file goes through at its first open.
	if db, err = boltstore.Open(path); err != nil {
		b.Fatal(err)
	}
	if err := boltstore.DropAuditIndexes(db); err != nil {
		b.Fatal(err)
	}
	db.Close()
	start := time.Now()
	if db, err = boltstore.Open(path); err != nil {
		b.Fatal(err)
	}
	b.Logf("index build of %d audit events at open: %v", auditBenchEvents, time.Since(start).Round(time.Millisecond))
	defer db.Close()
	st, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, q := range storetest.AuditBenchQueries(auditBenchEvents) {
		b.Run(q.Name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				page, err := st.QueryAudit(context.Background(), q.Query)
				if err != nil {
					b.Fatal(err)
				}
				n = len(page)
			}
			b.ReportMetric(float64(n), "events/page")
		})
	}
}

// TestAuditLogNotInHeap1M is TestAuditLogNotInHeap at 1,000,000 events.
// It writes them first (minutes), so it runs only when
// PORTIER_AUDIT_1M=1:
//
//	PORTIER_AUDIT_1M=1 go test ./store/boltstore -run TestAuditLogNotInHeap1M -count=1 -v -timeout 30m
func TestAuditLogNotInHeap1M(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("PORTIER_AUDIT_1M")); !ok {
		t.Skip("writes 1,000,000 audit events: set PORTIER_AUDIT_1M=1 to run it")
	}
	empty := openHeap(t, 0, store.KindAudit)
	full := openHeap(t, auditBenchEvents, store.KindAudit)
	t.Logf("heap growth at open: %d KiB with 0 audit events, %d KiB with 1,000,000", empty/1024, full/1024)
	if full > empty+2<<20 {
		t.Errorf("opening a store with 1,000,000 audit events grew the heap by %d KiB (empty: %d KiB): the audit log is held in memory", full/1024, empty/1024)
	}
}

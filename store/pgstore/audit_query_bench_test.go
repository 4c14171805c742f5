package pgstore

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// auditBenchEvents is the size of the audit log of the 1M benchmarks.
const auditBenchEvents = 1_000_000

// BenchmarkAuditQuery1M measures the queries of GET /api/v1/audit (a page
// of 100, newest first, with each filter and a cursor) on a PostgreSQL
// store whose audit log holds 1,000,000 events. Writing them takes
// minutes, so it runs only with -bench:
//
//	PORTIER_TEST_POSTGRES_URL=… go test ./store/pgstore -run XXX -bench BenchmarkAuditQuery1M -benchtime 20x -timeout 60m
func BenchmarkAuditQuery1M(b *testing.B) {
	db := openDB(b, pgtest.DSN(b))
	storetest.FillAudit(b, db, auditBenchEvents)
	// What autovacuum does to a table that grows by inserts (PostgreSQL
	// 13 and later): statistics, and the visibility map that lets a scan
	// of the (at, seq) index skip the table.
	if _, err := db.pool.Exec(context.Background(), "VACUUM ANALYZE portier_audit"); err != nil {
		b.Fatal(err)
	}
	st := openStore(b, db)
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

// heapAtOpen is how much the live heap grows by opening a Store (its read
// model) on db, with the Store still open.
func heapAtOpen(t *testing.T, db *DB) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st, err := store.Open(context.Background(), db, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(st)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}

// TestAuditLogNotInHeap1M: opening a store on a PostgreSQL database whose
// audit log holds 1,000,000 events grows the heap no more than opening
// one on an empty database (within 2 MiB). It writes the events first
// (minutes), so it runs only when PORTIER_AUDIT_1M=1:
//
//	PORTIER_AUDIT_1M=1 PORTIER_TEST_POSTGRES_URL=… go test ./store/pgstore -run TestAuditLogNotInHeap1M -count=1 -v -timeout 60m
func TestAuditLogNotInHeap1M(t *testing.T) {
	if ok, _ := strconv.ParseBool(os.Getenv("PORTIER_AUDIT_1M")); !ok {
		t.Skip("writes 1,000,000 audit events: set PORTIER_AUDIT_1M=1 to run it")
	}
	emptyDB := openDB(t, pgtest.DSN(t))
	empty := heapAtOpen(t, emptyDB)
	fullDB := openDB(t, pgtest.DSN(t))
	storetest.FillAudit(t, fullDB, auditBenchEvents)
	full := heapAtOpen(t, fullDB)
	t.Logf("heap growth at open: %d KiB with 0 audit events, %d KiB with 1,000,000", empty/1024, full/1024)
	if full > empty+2<<20 {
		t.Errorf("opening a store with 1,000,000 audit events grew the heap by %d KiB (empty: %d KiB): the audit log is held in memory", full/1024, empty/1024)
	}
}

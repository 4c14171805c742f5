package boltstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
)

// openHeap writes n audit events into a fresh file, then opens a Store on
// it and returns how much the live heap grew by opening it (the read
// model), with the Store still open.
func openHeap(t *testing.T, n int, kind store.Kind) uint64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portier.db")
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i += 10000 {
		muts := make([]store.Mutation, 0, 10000)
		for j := i; j < min(i+10000, n); j++ {
			ev := store.NewAuditEvent(at.Add(time.Duration(j)*time.Second), "user:ada@example.com", "device.view", fmt.Sprintf("dev_%06d", j))
			ev.RemoteIP = "192.0.2.10"
			ev.Detail = map[string]string{"note": "an ordinary audit event"}
			var r store.Record = ev
			if kind == store.KindDevice {
				r = &store.Device{ID: ev.ID, Name: ev.Target, OwnerEmail: "ada@example.com", Serial: ev.ID}
			}
			v, _ := store.Encode(r)
			muts = append(muts, store.Mutation{Kind: kind, ID: ev.ID, Value: v})
		}
		if _, err := db.Commit(context.Background(), muts); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	db, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
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

// A server with a large audit log does not hold it: opening a store with
// 100,000 audit events grows the heap no more than opening an empty one
// (within 2 MiB; holding them took about 60 MiB before the audit log left
// the read model). `go test ./store/boltstore -run TestAuditLogNotInHeap -v`
// prints both figures (recorded in docs/performance.md).
func TestAuditLogNotInHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 audit events")
	}
	empty := openHeap(t, 0, store.KindAudit)
	full := openHeap(t, 100000, store.KindAudit)
	// The control: records the read model does hold show in the measure.
	devices := openHeap(t, 20000, store.KindDevice)
	t.Logf("heap growth at open: %d KiB with 0 audit events, %d KiB with 100,000; %d KiB with 20,000 devices", empty/1024, full/1024, devices/1024)
	if full > empty+2<<20 {
		t.Errorf("opening a store with 100,000 audit events grew the heap by %d KiB (empty: %d KiB): the audit log is held in memory", full/1024, empty/1024)
	}
	if devices < empty+2<<20 {
		t.Errorf("the measure does not see 20,000 devices loaded (%d KiB): it cannot see an audit log held in memory either", devices/1024)
	}
}

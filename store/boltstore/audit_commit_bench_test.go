package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

// BenchmarkAuditedCommit measures what writing an audit event costs on the
// embedded store: one fsynced commit of a device with and without an
// event, and appending the benchmark log in commits of 10,000 events
// (where the fsync no longer hides the cost of the entry and its index
// keys), with the file's size per event.
//
//	go test ./store/boltstore -run XXX -bench BenchmarkAuditedCommit -benchtime 2s
func BenchmarkAuditedCommit(b *testing.B) {
	ctx := context.Background()
	for _, audited := range []bool{false, true} {
		b.Run(fmt.Sprintf("audited=%v", audited), func(b *testing.B) {
			db, err := boltstore.Open(filepath.Join(b.TempDir(), "portier.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			next := 0
			for b.Loop() {
				id := fmt.Sprintf("d%05d", next%10000)
				v, _ := store.Encode(&store.Device{ID: id})
				muts := []store.Mutation{{Kind: store.KindDevice, ID: id, Value: v}}
				if audited {
					ev := store.NewAuditEvent(time.Now(), "token:tok_bench", "device.update", id)
					v, _ := store.Encode(ev)
					muts = append(muts, store.Mutation{Kind: store.KindAudit, ID: ev.ID, Value: v})
				}
				if _, err := db.Commit(ctx, muts); err != nil {
					b.Fatal(err)
				}
				next++
			}
			b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "commits/s")
		})
	}
	b.Run("append-100k-in-commits-of-10k", func(b *testing.B) {
		for b.Loop() {
			path := filepath.Join(b.TempDir(), "portier.db")
			db, err := boltstore.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			storetest.FillAudit(b, db, 100000)
			db.Close()
			if fi, err := os.Stat(path); err == nil {
				b.ReportMetric(float64(fi.Size())/100000, "file-bytes/event")
			}
		}
		b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds(), "events/s")
	})
}

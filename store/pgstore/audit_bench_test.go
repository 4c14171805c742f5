package pgstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// BenchmarkAuditedCommit measures commits that carry an audit event beside
// the change (the chain's head is read under the counter lock, in an
// explicit transaction), against the same commits without one.
func BenchmarkAuditedCommit(b *testing.B) {
	db := openDB(b, pgtest.DSN(b))
	ctx := context.Background()
	for _, audited := range []bool{false, true} {
		b.Run(fmt.Sprintf("audited=%v", audited), func(b *testing.B) {
			next := 0
			for b.Loop() {
				d := device(fmt.Sprintf("d%05d", next%10000))
				muts := []store.Mutation{d}
				if audited {
					ev := store.NewAuditEvent(time.Now(), "token:tok_bench", "device.update", d.ID)
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
		b.Run(fmt.Sprintf("store-parallel/audited=%v", audited), func(b *testing.B) {
			st := openStore(b, db)
			var next atomic.Int64
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("d%05d", next.Add(1)%10000)
					ops := []store.Op{store.Put(&store.Device{ID: id})}
					if audited {
						ops = append(ops, store.Put(store.NewAuditEvent(time.Now(), "token:tok_bench", "device.update", id)))
					}
					if err := st.Write(ctx, ops...); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

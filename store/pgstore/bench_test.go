package pgstore

import (
	"context"
	"fmt"
	"github.com/portier/portier/store/pgstore/pgtest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// BenchmarkCommit measures durable upserts of device records (about 300
// bytes of JSON each) over a working set of 10,000 devices: one Commit per
// record, Commits of n records, and store.Write from many goroutines, which
// the store's writer groups into shared Commits.
func BenchmarkCommit(b *testing.B) {
	db := openDB(b, pgtest.DSN(b))
	ctx := context.Background()
	val, err := store.Encode(&store.Device{
		ID: "00000000-0000-0000-0000-000000000000", Name: "laptop-0042", Serial: "C02XK0AAJGH5",
		Platform: "macos", Ownership: store.OwnershipCorporate, OwnerEmail: "someone@example.com",
		State: store.DeviceActive, Trust: store.TrustHigh, Compliant: true,
		PassingChecks: []string{"disk_encryption", "firewall", "os_version", "screen_lock"},
		CertSerial:    "123456789012345678901234567890", EnrolledAt: time.Unix(1700000000, 0), LastSeen: time.Unix(1700003600, 0),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 16, 128, 512} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			muts := make([]store.Mutation, n)
			next, writes := 0, 0
			for b.Loop() {
				for i := range muts {
					muts[i] = store.Mutation{Kind: store.KindDevice, ID: fmt.Sprintf("d%05d", next%10000), Value: val}
					next++
				}
				if _, err := db.Commit(ctx, muts); err != nil {
					b.Fatal(err)
				}
				writes += n
			}
			b.ReportMetric(float64(writes)/b.Elapsed().Seconds(), "writes/s")
		})
	}
	b.Run("store-parallel", func(b *testing.B) {
		st := openStore(b, db)
		var next atomic.Int64
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := fmt.Sprintf("d%05d", next.Add(1)%10000)
				d := &store.Device{ID: id, Trust: store.TrustHigh, Compliant: true}
				if err := st.Write(ctx, store.Put(d)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	})
}

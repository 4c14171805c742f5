package kpi_test

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store/storetest"
)

// BenchmarkSnapshot100k: the daily job's work with 100,000 devices: every
// series computed and stored.
func BenchmarkSnapshot100k(b *testing.B) {
	st := storetest.OpenBolt(b)
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	if err := storetest.PutFleet(context.Background(), st, 100_000, now); err != nil {
		b.Fatal(err)
	}
	s := &kpi.Snapshotter{Store: st, Clock: func() time.Time { return now }}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n, err := s.Take(context.Background())
		if err != nil || n < 30 {
			b.Fatalf("%d series, %v", n, err)
		}
	}
}

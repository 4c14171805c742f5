package boltstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

// BenchmarkDecisionsFirstPage is the decision explorer's first page (100
// records) with 10 million recorded decisions in the embedded store
// (PORTIER_BENCH_DECISIONS sets another count): 20,000 people on 50
// routes, 30 days. Generating them is part of the set-up, in batches of
// 50,000, and is logged.
func BenchmarkDecisionsFirstPage(b *testing.B) {
	total := 10_000_000
	if v := os.Getenv("PORTIER_BENCH_DECISIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		total = n
	}
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "portier.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// 22 weekdays in 30 days: people × 22 × routes a day.
	tr := storetest.Traffic{Users: 20_000, Routes: 50, Days: 30, RoutesPerDay: max(1, total/(20_000*22)), Start: start}
	t0 := time.Now()
	n, err := storetest.GenerateDecisions(context.Background(), db, tr, 50_000)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d records in %v", n, time.Since(t0).Round(time.Second))
	ctx := context.Background()
	deny := "deny"
	for _, tc := range []struct {
		name string
		q    store.DecisionQuery
	}{
		{"newest", store.DecisionQuery{Limit: 100}},
		{"one-route-denied", store.DecisionQuery{Route: storetest.TrafficRoute(7), Outcome: deny, Limit: 100}},
		{"one-person", store.DecisionQuery{User: "user00042@example.com", Limit: 100}},
		{"last-day", store.DecisionQuery{Since: start.AddDate(0, 0, 29), Limit: 100}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				page, err := db.QueryDecisions(ctx, tc.q)
				if err != nil || len(page) == 0 {
					b.Fatalf("%d records, %v", len(page), err)
				}
			}
		})
	}
}

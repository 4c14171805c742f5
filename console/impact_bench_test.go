package console

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// BenchmarkImpactReplay replays 30 days of recorded access of 10,000
// people on 50 routes (each person visits 5 routes a weekday: about 1.1
// million records, 22,000 of them on the replayed route) against a
// stricter draft, on the embedded store.
func BenchmarkImpactReplay(b *testing.B) {
	st := storetest.OpenBolt(b)
	dl, err := st.Decisions()
	if err != nil {
		b.Fatal(err)
	}
	benchImpact(b, dl, 20_000)
}

// BenchmarkImpactReplayPostgres is BenchmarkImpactReplay on PostgreSQL,
// in a schema of its own dropped at the end. Opt-in: loading the records
// takes minutes, so it runs only with PORTIER_BENCH_PG=1 (and
// PORTIER_TEST_POSTGRES_URL).
func BenchmarkImpactReplayPostgres(b *testing.B) {
	if os.Getenv("PORTIER_BENCH_PG") != "1" {
		b.Skip("set PORTIER_BENCH_PG=1 to load 30 days of recorded access into PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgstore.Open(ctx, pgtest.DSN(b), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	benchImpact(b, db, 2_000) // each AppendDecisions has the store's statement timeout
}

// benchImpact generates storetest.Traffic's 30 days into dl through
// AppendDecisions in batches of batch and replays route 0 against a
// draft that asks for high trust on corporate devices.
func benchImpact(b *testing.B, dl store.DecisionLog, batch int) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tr := storetest.Traffic{Users: 10_000, Routes: 50, Days: 30, RoutesPerDay: 5, Start: start}
	t0 := time.Now()
	n, err := storetest.GenerateDecisions(context.Background(), dl, tr, batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d records in %v", n, time.Since(t0).Round(time.Millisecond))
	cur, err := policy.Parse("current", []byte("policies:\n  - id: staff\n    allow:\n      and:\n        - group: {has: staff}\n        - device: {trust: {gte: medium}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	draft, err := ParseDraft("id: staff\nallow:\n  and:\n    - group: {has: staff}\n    - device: {trust: {gte: high}, ownership: {in: [corporate]}}\n")
	if err != nil {
		b.Fatal(err)
	}
	route := storetest.TrafficRoute(0)
	current := map[string]Enforced{route: {Policy: cur[0]}}
	var records int
	for b.Loop() {
		im, err := ReplayImpact(context.Background(), dl, []string{route}, current, draft, nil, start, start.AddDate(0, 0, 30))
		if err != nil {
			b.Fatal(err)
		}
		records = im.Records
		if im.NewlyDenied.Users == 0 {
			b.Fatal("the stricter draft denies nobody new")
		}
	}
	b.ReportMetric(float64(records), "records/op")
}

// BenchmarkDecisionStats is the statistics page's numbers over the
// traffic of BenchmarkImpactReplay (1,050,000 records in 30 days, embedded
// store): the last weekday (24 h) and the whole 30 days. Each reads every
// record of its window.
func BenchmarkDecisionStats(b *testing.B) {
	st := storetest.OpenBolt(b)
	dl, err := st.Decisions()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tr := storetest.Traffic{Users: 10_000, Routes: 50, Days: 30, RoutesPerDay: 5, Start: start}
	t0 := time.Now()
	n, err := storetest.GenerateDecisions(context.Background(), dl, tr, 20_000)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d records in %v", n, time.Since(t0).Round(time.Millisecond))
	end := start.AddDate(0, 0, 30) // 2026-03-31 00:00, a Tuesday: the 24 h before it are Monday's
	for _, tc := range []struct {
		name  string
		since time.Time
	}{{"24h", end.Add(-24 * time.Hour)}, {"30d", start}} {
		b.Run(tc.name, func(b *testing.B) {
			req, err := ParseStatsQuery(url.Values{"since": {tc.since.Format(time.RFC3339)}, "until": {end.Format(time.RFC3339)}}, end)
			if err != nil {
				b.Fatal(err)
			}
			var requests uint64
			for b.Loop() {
				s, err := store.ComputeDecisionStats(context.Background(), dl, req.Q, req.Bucket)
				if err != nil {
					b.Fatal(err)
				}
				requests = s.Requests
			}
			b.ReportMetric(float64(requests), "requests/op")
		})
	}
}

package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// BenchmarkDashboard100k: the dashboard page (90-day trends) and the
// history API of a fleet of 100,000 devices, with 90 days of snapshots of
// every series (the first day's counts copied to the others).
func BenchmarkDashboard100k(b *testing.B) {
	ctx := context.Background()
	st := storetest.OpenBolt(b)
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	if err := storetest.PutFleet(ctx, st, 100_000, now); err != nil {
		b.Fatal(err)
	}
	counts, err := kpi.Compute(ctx, st, now, nil)
	if err != nil {
		b.Fatal(err)
	}
	l, _ := st.KPISnapshots()
	for d := range 90 {
		var snaps []*store.KPISnapshot
		for s, c := range counts {
			day := store.Day(now).AddDate(0, 0, -d)
			snaps = append(snaps, &store.KPISnapshot{Day: day, Dimension: s.Dimension, Value: s.Value, TakenAt: day, Counts: *c})
		}
		if err := l.PutKPISnapshots(ctx, snaps); err != nil {
			b.Fatal(err)
		}
	}
	c := New(Options{Store: st, Log: slog.New(slog.DiscardHandler), Clock: func() time.Time { return now }, ExternalURL: extURL})
	for _, bc := range []struct {
		name, url string
		h         gin.HandlerFunc
	}{
		{"page-fleet-90d", "/dashboard?days=90", c.dashboardPage},
		{"page-department-90d", "/dashboard?days=90&filter=department%3Ddept-07", c.dashboardPage},
		{"api-history-90d", "/api/v1/kpis/history?since=2026-09-09", c.kpiHistory},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				g, _ := gin.CreateTestContext(w)
				g.Request = httptest.NewRequest(http.MethodGet, bc.url, nil)
				bc.h(g)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "100000") && !strings.Contains(w.Body.String(), "5000") {
					b.Fatalf("%d\n%.500s", w.Code, w.Body.String())
				}
			}
		})
	}
}

package kpi

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/portier/portier/store"
)

// Every is how often the snapshot job refreshes today's snapshot.
const Every = time.Hour

// Snapshotter takes the daily KPI snapshots.
type Snapshotter struct {
	Store *store.Store
	Clock func() time.Time
	Log   *slog.Logger
	// Waves is called once per snapshot, with the store as it is then; it
	// returns what names the rollout waves of a device's or an expected
	// device's owner (by e-mail address), each as "plan/wave" (see
	// Compute). Nil: no one is in any wave.
	Waves func() func(owner string) []string
}

// Take computes every series now and stores them as today's snapshot
// (UTC), replacing what an earlier run of the same day stored: a day has
// one snapshot per series, the last taken that day. It returns how many
// series it stored.
func (s *Snapshotter) Take(ctx context.Context) (int, error) {
	l, err := s.Store.KPISnapshots()
	if err != nil {
		return 0, err
	}
	now := s.Clock().UTC()
	var waves func(string) []string
	if s.Waves != nil {
		waves = s.Waves()
	}
	counts, err := Compute(ctx, s.Store, now, waves)
	if err != nil {
		return 0, err
	}
	snaps := make([]*store.KPISnapshot, 0, len(counts))
	for se, c := range counts {
		snaps = append(snaps, &store.KPISnapshot{Day: store.Day(now), Dimension: se.Dimension, Value: se.Value, TakenAt: now, Counts: *c})
	}
	sort.Slice(snaps, func(i, j int) bool {
		a, b := snaps[i], snaps[j]
		return a.Dimension < b.Dimension || (a.Dimension == b.Dimension && a.Value < b.Value)
	})
	return len(snaps), l.PutKPISnapshots(ctx, snaps)
}

// Run takes today's snapshot now and then every Every until ctx ends. The
// server runs it under the kpis.snapshot lease: on one replica at a time.
func (s *Snapshotter) Run(ctx context.Context) {
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		if n, err := s.Take(ctx); err != nil {
			if ctx.Err() == nil {
				s.Log.Error("kpis: snapshot failed", "err", err)
			}
		} else {
			s.Log.Debug("kpis: snapshot taken", "series", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

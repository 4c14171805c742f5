package server

import (
	"context"

	"github.com/portier/portier/kpi"
	"github.com/portier/portier/rollout"
)

// kpiSnapshotter takes the daily KPI snapshots the dashboard reads. The
// server runs it under the kpis.snapshot lease.
func (s *Server) kpiSnapshotter() *kpi.Snapshotter {
	return &kpi.Snapshotter{Store: s.store, Clock: s.clock, Log: s.log, Waves: s.rolloutWaves}
}

// rolloutWaves indexes the rollout plans as the store holds them now and
// returns the waves of a device's owner: one "plan/wave" per plan that has
// them in a wave (rollout.Index.Waves), for the KPIs' wave dimension.
func (s *Server) rolloutWaves() func(owner string) []string {
	x := rollout.Build(s.store)
	if len(x.Plans()) == 0 {
		return nil
	}
	return func(owner string) []string { return x.Waves(rollout.Person{Email: owner}) }
}

// TakeKPISnapshot takes today's KPI snapshot now, as the hourly job does,
// and returns how many series it stored.
func (s *Server) TakeKPISnapshot(ctx context.Context) (int, error) {
	return s.kpiSnapshotter().Take(ctx)
}

package server

import (
	"context"

	"github.com/portier/portier/kpi"
)

// kpiSnapshotter takes the daily KPI snapshots the dashboard reads. The
// server runs it under the kpis.snapshot lease.
func (s *Server) kpiSnapshotter() *kpi.Snapshotter {
	return &kpi.Snapshotter{Store: s.store, Clock: s.clock, Log: s.log}
}

// TakeKPISnapshot takes today's KPI snapshot now, as the hourly job does,
// and returns how many series it stored.
func (s *Server) TakeKPISnapshot(ctx context.Context) (int, error) {
	return s.kpiSnapshotter().Take(ctx)
}

package server

import (
	"context"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/console"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
)

// decisionPruneEvery is how often old recorded access is removed.
const decisionPruneEvery = time.Hour

// decisionPruneBatch bounds the records one prune transaction removes.
const decisionPruneBatch = 50_000

// startRecorder starts recorded access when the config asks for it (the
// default) and the backend keeps a decision log; nil otherwise.
func (s *Server) startRecorder(reg prometheus.Registerer) *proxy.Recorder {
	d := s.cfg.Decisions
	if !d.Recording() {
		return nil
	}
	dl, err := s.store.Decisions()
	if err != nil {
		s.log.Warn("recorded access is off: the store keeps no decision log", "err", err)
		return nil
	}
	r := proxy.NewRecorder(proxy.RecorderOptions{Sink: dl, Log: s.log, Interval: d.FlushOrDefault(),
		MaxEntries: d.MaxEntriesOrDefault(), Registerer: reg})
	r.Start()
	return r
}

// pruneDecisions removes recorded access past the retention and beyond
// max_rows, now and then every hour, until ctx ends. It runs under the
// decisions.prune lease: on one replica of a cluster at a time.
func (s *Server) pruneDecisions(ctx context.Context) {
	dl, err := s.store.Decisions()
	if err != nil {
		return
	}
	d := s.cfg.Decisions
	t := time.NewTicker(decisionPruneEvery)
	defer t.Stop()
	for {
		p := store.DecisionPrune{Before: s.clock().Add(-d.RetentionOrDefault()), MaxRows: d.MaxRowsOrDefault(), Limit: decisionPruneBatch}
		for {
			n, err := dl.PruneDecisions(ctx, p)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("recorded access: prune failed", "err", err)
				}
				break
			}
			if n > 0 {
				s.log.Info("recorded access: pruned", "records", n)
			}
			if n < p.Limit {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rulesOf is what the impact replay compares a draft with: each route
// (origin and path prefix) with its policy id, and the compiled policies.
func rulesOf(routes []config.Route, pols []*policy.Policy) *console.Rules {
	r := &console.Rules{Routes: map[string]string{}, Policies: map[string]*policy.Policy{}}
	for _, rt := range routes {
		r.Routes[strings.TrimSuffix(rt.From, "/")] = rt.Policy
	}
	for _, p := range pols {
		r.Policies[p.ID] = p
	}
	return r
}

// currentRules is the console's accessor for the rules in force.
func (s *Server) currentRules() console.Rules { return *s.inForce.Load() }

package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/prometheus/client_golang/prometheus"
)

// rulesState is what the server last compiled from the store's routes and
// policies.
type rulesState struct {
	print string // the ids and versions compiled (see rulesPrint)
	set   *rules.Set
	// posture is the posture engine's configuration: the store's
	// compliance policies with the running config's privacy and sources;
	// compliance is the print of those policies.
	posture    *posture.Config
	compliance string
}

// rulesPrint identifies the store's current routes and policies: when it
// changes, the proxy must recompile.
func rulesPrint(st *store.Store) string {
	return printOf(st.Routes(), st.Policies(), st.Compliance())
}

// printOf identifies lists of rules by their ids and versions.
func printOf(lists ...[]*store.Rule) string {
	var b strings.Builder
	for _, rs := range lists {
		for _, r := range rs {
			fmt.Fprintf(&b, "%s/%s@%d;", r.Type, r.ID, r.Version)
		}
	}
	return b.String()
}

// newRulesMetrics registers the rules' compile error counter.
func newRulesMetrics(reg *prometheus.Registry) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portier_rules_compile_errors_total",
		Help: "Times the store's routes and policies did not compile; the last good rules stay in force.",
	})
	reg.MustRegister(c)
	return c
}

// compileRules compiles the store's current routes and policies with the
// running config's settings.
func (s *Server) compileRules() (*rulesState, error) {
	print := rulesPrint(s.store)
	routes, policies, err := rules.FromStore(s.store)
	if err != nil {
		return nil, err
	}
	set, err := rules.Compile(s.base.Load(), routes, policies, CompilePolicies)
	if err != nil {
		return nil, err
	}
	// The print and the compile read the same list, so a change that
	// lands meanwhile is seen as new at the next refresh.
	crs := s.store.Compliance()
	comp, err := rules.DocsOf(crs)
	if err != nil {
		return nil, err
	}
	pcfg, err := rules.CompileCompliance(s.base.Load(), comp)
	if err != nil {
		return nil, err
	}
	return &rulesState{print: print, set: set, posture: pcfg, compliance: printOf(crs)}, nil
}

// refreshRules recompiles the proxy, the simulator and the TLS
// certificate's hosts when the store's rules changed since the last
// compile. A set that does not compile changes nothing: the last good one
// stays, and the error is logged and counted.
func (s *Server) refreshRules(ctx context.Context) {
	s.rulesMu.Lock()
	defer s.rulesMu.Unlock()
	if s.proxy == nil {
		return // still starting: Start compiles once everything is there
	}
	if cur := s.rulesNow.Load(); cur != nil && cur.print == rulesPrint(s.store) {
		return
	}
	if err := s.applyRulesLocked(ctx); err != nil {
		s.rulesErrs.Inc()
		s.log.Error("rules: the store's routes and policies do not compile; the last good ones stay in force", "err", err)
	}
}

// applyRulesLocked compiles and loads the store's rules (rulesMu held).
func (s *Server) applyRulesLocked(ctx context.Context) error {
	st, err := s.compileRules()
	if err != nil {
		return err
	}
	if err := s.loadRoutes(st.set.Config, st.set.Policies, st.set.Candidates); err != nil {
		return err
	}
	prev := s.rulesNow.Load()
	s.rulesNow.Store(st)
	if s.posture != nil && (prev == nil || prev.compliance != st.compliance) {
		s.applyCompliance(st.posture)
	}
	s.cfgNow.Store(st.set.Config)
	if s.tls != nil {
		if err := s.tls.setHosts(ctx, st.set.Config); err != nil {
			return err
		}
	}
	s.log.Info("rules: routes and policies loaded from the store", "routes", len(st.set.Routes), "policies", len(st.set.All))
	return nil
}

// applyCompliance puts compliance policies in force: the posture engine
// takes them and recomputes every device's verdict in the background.
func (s *Server) applyCompliance(pcfg *posture.Config) {
	s.posture.SetConfig(pcfg)
	go func() {
		// Trust follows the new compliance policies without waiting for
		// each device's next report.
		if err := s.posture.RecomputeAll(context.Background()); err != nil {
			s.log.Error("rules: recomputing device compliance failed", "err", err)
		}
	}()
}

// watchRules follows the store: a change of routes or policies, made on
// any replica, is compiled as soon as this replica's read model has it.
func (s *Server) watchRules(ctx context.Context) {
	for {
		ch := s.store.Changed()
		s.refreshRules(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// newRulesService is the rules service over this server's store.
func (s *Server) newRulesService() *rules.Service {
	return &rules.Service{Store: s.store, Base: func() *config.Config { return s.base.Load() },
		Compile: CompilePolicies, Clock: s.clock,
		AfterWrite: func(ctx context.Context) { s.refreshRules(ctx) }}
}

// sameHosts reports whether two host lists hold the same names.
func sameHosts(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

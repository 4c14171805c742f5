package rollout_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/portier/portier/rollout"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestApplyTwoReplicasOnPostgres: two replicas on one PostgreSQL database
// take the same wave step at the same moment: the policy gets one new
// version and the wave one audit event between them.
func TestApplyTwoReplicasOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	open := func() *store.Store {
		db, err := pgstore.Open(ctx, dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(ctx, db, slog.New(slog.DiscardHandler))
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(); db.Close() })
		return st
	}
	e := newApplyEnvOn(t, open())
	b := open()
	if err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	other := &rollout.Applier{Store: b, Rules: &rules.Service{Store: b, Base: e.svc.Base, Compile: e.svc.Compile, Clock: e.clk.Now},
		Log: slog.New(slog.DiscardHandler)}
	e.clk.Set(day0)
	var wg sync.WaitGroup
	for _, a := range []*rollout.Applier{e.a, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = a.Apply(ctx, day0)
		}()
	}
	wg.Wait()
	for _, st := range []*store.Store{e.st, b} {
		if err := st.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		for _, a := range []*rollout.Applier{e.a, other} {
			if _, err := a.Apply(ctx, day0); err != nil {
				t.Fatal(err)
			}
			_ = a.Store.CatchUp(ctx)
		}
	}
	for _, st := range []*store.Store{e.st, b} {
		if r, _ := st.RuleOf(store.RulePolicy, "finance"); r == nil || r.Version != 2 {
			t.Errorf("finance: %+v, want version 2 (one step)", r)
		}
		p, _ := st.RolloutPlan("mdm-2027")
		if p == nil || p.Waves[0].AppliedAt.IsZero() {
			t.Errorf("the pilot is not marked applied: %+v", p)
		}
	}
	steps := 0
	for _, ev := range e.st.Audit() {
		if ev.Action == rollout.AuditWaveApplied {
			steps++
		}
	}
	if steps != 1 {
		t.Errorf("%d wave steps audited, want 1", steps)
	}
}

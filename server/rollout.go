package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
)

// rolloutEvery is the most often the rollout index is rebuilt while the
// store keeps changing: membership follows a change within about this.
const rolloutEvery = time.Second

// refreshRollout rebuilds the rollout index (wave membership, coexistence
// deadlines) from the store and gives it to the proxy; when the plans'
// waves changed (who is in which wave), device compliance is recomputed,
// since a report-only compliance policy may be enforced for some waves.
// A wave step changes policies, which recompute devices on their own.
func (s *Server) refreshRollout() {
	x := rollout.Build(s.store)
	s.rolloutIdx.Store(x)
	s.proxy.SetRollout(x)
	print := membersPrint(x.Plans())
	if prev := s.rolloutPrint.Swap(&print); prev != nil && *prev != print && s.posture != nil {
		go func() {
			if err := s.posture.RecomputeAll(context.Background()); err != nil {
				s.log.Error("rollout: recomputing device compliance failed", "err", err)
			}
		}()
	}
}

// membersPrint identifies the plans' waves by what decides membership:
// names, groups, departments, people and everyone (not dates, nor
// whether a wave was applied).
func membersPrint(ps []*store.RolloutPlan) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%q:", p.ID)
		for _, w := range p.Waves {
			fmt.Fprintf(&b, "%q%q%q%q%t;", w.Name, w.Groups, w.Departments, w.People, w.Everyone)
		}
	}
	return b.String()
}

// deviceWaves are a device's owner's rollout waves, for the posture engine.
func (s *Server) deviceWaves(d *store.Device) []string {
	x := s.rolloutIdx.Load()
	if x == nil {
		return nil
	}
	return x.DeviceWaves(d)
}

// watchRollout rebuilds the rollout index when the store changes, at most
// once per rolloutEvery (people, groups and devices change often; the
// index is rebuilt from all of them).
func (s *Server) watchRollout(ctx context.Context) {
	for {
		// Taken before the rebuild: a change made during it, or during
		// the pause below, is seen at the next round.
		ch := s.store.Changed()
		s.refreshRollout()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rolloutEvery):
		}
	}
}

// runSchedule takes the scheduled steps every scheduleEvery: policies'
// scheduled promotions, then the rollout plans' wave steps. Every replica
// runs it: compare-and-set lets one replica write each step.
func (s *Server) runSchedule(ctx context.Context) {
	a := &rollout.Applier{Store: s.store, Rules: s.rules, Log: s.log}
	t := time.NewTicker(scheduleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.rules.PromoteLogged(ctx, s.log)
			s.applyRollout(ctx, a)
		}
	}
}

// applyRollout runs one round of wave steps and, when a wave was applied
// here, rebuilds the index at once.
func (s *Server) applyRollout(ctx context.Context, a *rollout.Applier) {
	n, err := a.Apply(ctx, s.clock())
	if err != nil {
		s.log.Error("rollout: a wave step failed; will retry", "err", err)
	}
	if n > 0 {
		s.refreshRollout()
	}
}

// ApplyRollout runs one round of the rollout plans' wave steps now (tests
// drive it with an injected clock instead of waiting for the ticker).
func (s *Server) ApplyRollout(ctx context.Context) {
	s.applyRollout(ctx, &rollout.Applier{Store: s.store, Rules: s.rules, Log: s.log})
}

// waves are a person's rollout waves as the current plans say, for the
// console's impact replay.
func (s *Server) waves(email string, groups []string) []string {
	x := s.rolloutIdx.Load()
	if x == nil {
		return nil
	}
	return x.Waves(rollout.Person{Email: email, Groups: groups})
}

// simulate is the console's what-if: the live routes and policies with
// the rollout plans' waves and coexistence deadlines, as the proxy
// decides.
func (s *Server) simulate(target string, q proxy.Query) (*proxy.Simulation, error) {
	return s.sim.Load().WithRollout(s.rolloutIdx.Load(), s.cfg.ExternalURL).Ask(target, q, s.clock())
}

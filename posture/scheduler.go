package posture

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/portier/portier/store"
)

// tickWorkers bounds how many devices one tick recomputes at once: enough
// for the store to group their writes into few commits.
const tickWorkers = 16

// Run moves time-driven state forward until ctx ends: a tick at start and
// then every TickInterval (escalation ladders, devices going stale, and
// the retention purge every PurgeInterval). It returns nil when ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.tickEvery)
	defer t.Stop()
	for {
		if err := e.Tick(ctx, e.clock()); err != nil && ctx.Err() == nil {
			e.log.Error("posture: tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick does one scheduler pass at now: it recomputes every device whose
// next escalation step is due, that has just gone stale, or whose stored
// trust is above what its ownership and key allow (a record written
// before the rule, or by an older version), and runs the
// retention purge when PurgeInterval has passed since the last one. Tests
// call it directly with a fake time.
func (e *Engine) Tick(ctx context.Context, now time.Time) error {
	cfg := e.Config()
	errs := e.recomputeWhere(ctx, now, func(d *store.Device) bool { return due(cfg, d, now) || overTrusted(d) })
	if err := ctx.Err(); err != nil {
		return err
	}
	e.purgeMu.Lock()
	purge := e.lastPurge.IsZero() || now.Sub(e.lastPurge) >= e.purgeEvery
	if purge {
		e.lastPurge = now
	}
	e.purgeMu.Unlock()
	if purge {
		if err := e.Purge(ctx, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RecomputeAll re-evaluates every device, after SetConfig or a bulk
// change of devices. Unchanged devices are not written.
func (e *Engine) RecomputeAll(ctx context.Context) error {
	errs := e.recomputeWhere(ctx, e.clock(), func(*store.Device) bool { return true })
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// recomputeWhere recomputes the devices pick selects, a few at a time.
func (e *Engine) recomputeWhere(ctx context.Context, now time.Time, pick func(*store.Device) bool) []error {
	work := make(chan string)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range tickWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := e.recompute(ctx, id, now); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, d := range e.st.Devices() {
		if ctx.Err() != nil {
			break
		}
		if pick(d) {
			work <- d.ID
		}
	}
	close(work)
	wg.Wait()
	return errs
}

// due reports, from the device record alone, whether time has changed its
// verdict: it has just gone stale, or its next escalation step is due.
// A report-only policy's would-be verdict counts too (wouldDue).
func due(cfg *Config, d *store.Device, now time.Time) bool {
	if d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		return d.Trust != store.TrustUntrusted
	}
	return dueOn(cfg, d, now) || wouldDue(cfg, d, now)
}

// dueOn is due for one config's policies and the device's streak.
func dueOn(cfg *Config, d *store.Device, now time.Time) bool {
	set := cfg.assigned(d)
	if limit := set.checks.MaxCheckinAge; limit > 0 && now.Sub(d.LastSeen) > limit && !slices.Contains(d.FailingChecks, CheckRecentCheckin) {
		return true
	}
	if d.FailingSince.IsZero() || len(d.FailingChecks) == 0 {
		return false
	}
	var pols []*Policy
	for _, name := range d.FailingChecks {
		for _, p := range set.policies {
			if slices.Contains(set.by[name], p.ID) && !containsPolicy(pols, p) {
				pols = append(pols, p)
			}
		}
	}
	if len(pols) == 0 {
		return false
	}
	grace, l := mergeLadders(pols)
	start := d.FailingSince.Add(grace)
	rank := stepRank(d.EscalationStep)
	for _, s := range l.Steps {
		if stepRank(s.Name) > rank {
			return !now.Before(start.Add(s.After))
		}
	}
	return false
}

package enrollment

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// Long-poll bounds for the agent's action requests (the protocol's).
const (
	DefaultPollWait = agentwire.DefaultPollWait
	MaxPollWait     = agentwire.MaxPollWait
	// sweepEvery is how often Run expires overdue actions.
	sweepEvery = 30 * time.Second
)

// pending returns a device's open, unexpired actions, oldest first, and a
// channel closed when any of its actions changes.
func (s *Service) pending(deviceID string, now time.Time) ([]*store.Action, <-chan struct{}) {
	it, err := s.st.Txn().Get(string(store.KindAction), "device", deviceID)
	if err != nil {
		return nil, nil
	}
	var out []*store.Action
	for raw := it.Next(); raw != nil; raw = it.Next() {
		a := raw.(*store.Action)
		if open(a.Status) && now.Before(a.ExpiresAt) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RequestedAt.Before(out[j].RequestedAt) })
	return out, it.WatchCh()
}

// Poll returns the device's open actions, waiting up to wait for one to
// be queued. Queued actions are marked delivered. Delivered but
// unacknowledged actions are delivered again: the agent executes each
// action id at most once and acknowledges it, so re-delivery is safe and
// survives an agent that crashed before acknowledging.
func (s *Service) Poll(ctx context.Context, d *store.Device, wait time.Duration) ([]*store.Action, error) {
	if wait < 0 || wait > MaxPollWait {
		wait = MaxPollWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		acts, watch := s.pending(d.ID, s.clock())
		if len(acts) > 0 {
			return s.markDelivered(ctx, acts)
		}
		select {
		case <-watch:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

func (s *Service) markDelivered(ctx context.Context, acts []*store.Action) ([]*store.Action, error) {
	now := s.clock().UTC()
	var ops []store.Op
	out := make([]*store.Action, len(acts))
	for i, a := range acts {
		out[i] = a
		if a.Status == store.ActionQueued {
			cp := *a
			cp.Status, cp.DeliveredAt = store.ActionDelivered, now
			ops = append(ops, store.Put(&cp))
			out[i] = &cp
		}
	}
	if len(ops) > 0 {
		if err := s.st.Write(ctx, ops...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParseActionResult reads and checks an action result body (see
// agentwire.ActionResult).
func ParseActionResult(body []byte) (agentwire.ActionResult, error) {
	var r agentwire.ActionResult
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	if err := r.Validate(); err != nil {
		return r, fieldErr(err)
	}
	return r, nil
}

// ReportResult records an agent's result for one of its actions. A
// repeated identical report is answered with the action as recorded. An
// acknowledged selective wipe retires the device (its work profile and
// keys are gone); an acknowledged wipe marks it wiped; both revoke its
// certificates.
func (s *Service) ReportResult(ctx context.Context, d *store.Device, actionID string, r agentwire.ActionResult) (*store.Action, error) {
	a, ok := s.st.Action(actionID)
	if !ok || a.DeviceID != d.ID {
		return nil, apperr.New(apperr.NotFound, "this device has no action %q", actionID)
	}
	now := s.clock()
	a = effective(a, now)
	if !open(a.Status) {
		if a.Status == r.Status {
			return a, nil
		}
		return nil, apperr.New(apperr.Conflict, "action %s is already %s", actionID, a.Status)
	}
	cp := *a
	cp.Status, cp.DoneAt, cp.Result = r.Status, now.UTC(), r.Result
	if cp.DeliveredAt.IsZero() {
		cp.DeliveredAt = now.UTC()
	}
	detail := map[string]string{"action": a.ID, "type": a.Type, "after": now.Sub(a.RequestedAt).Round(time.Second).String()}
	event := store.Put(store.NewDeviceEvent(now, d.ID, "action_"+r.Status, detail))
	if r.Status != store.ActionAcknowledged || (a.Type != ActionSelectiveWipe && a.Type != ActionWipe) {
		if err := s.st.Write(ctx, store.Put(&cp), event); err != nil {
			return nil, err
		}
		return &cp, nil
	}
	// A wipe done: the revocation of the device's certificates, the action,
	// the device's new state and the history go in one Write, so a replica
	// killed at any point leaves either all of them or none (the agent then
	// reports again with its still valid certificate).
	state, why := store.DeviceRetired, "work profile removed by selective wipe"
	if a.Type == ActionWipe {
		state, why = store.DeviceWiped, "device wiped"
	}
	err := s.writeRevoking(ctx, d.ID, ca.ReasonCessationOfOperation, why, func(revs []store.Op) []store.Op {
		cur := d
		if c, ok := s.st.Device(d.ID); ok {
			cur = c
		}
		ops := append(revs, store.Put(&cp))
		return append(append(ops, s.retireOps(cur, state, now, why, a.ID)...), event)
	})
	if err != nil {
		return nil, err
	}
	return &cp, nil
}

// ExpireDue records as expired every open action past its expiry, and
// returns how many it expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	now := s.clock()
	var ops []store.Op
	for _, a := range s.st.Actions() {
		if open(a.Status) && !now.Before(a.ExpiresAt) {
			ops = append(ops, store.Put(effective(a, now)),
				store.Put(store.NewDeviceEvent(now, a.DeviceID, "action_expired", map[string]string{"action": a.ID, "type": a.Type})))
		}
	}
	if len(ops) == 0 {
		return 0, nil
	}
	if err := s.st.Write(ctx, ops...); err != nil {
		return 0, fmt.Errorf("enrollment: expire actions: %w", err)
	}
	return len(ops) / 2, nil
}

// Run expires overdue actions and approval requests, and deletes codes
// long expired, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	codes := time.NewTicker(codeSweepEvery)
	defer codes.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-codes.C:
			if n, err := s.SweepCodes(ctx); err != nil {
				s.log.Warn("enrollment: code sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("enrollment: expired codes deleted", "count", n)
			}
			if n, err := s.SweepAttestChallenges(ctx); err != nil {
				s.log.Warn("enrollment: attestation challenge sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("enrollment: expired attestation challenges deleted", "count", n)
			}
		case <-t.C:
			if n, err := s.ExpireDue(ctx); err != nil {
				s.log.Warn("enrollment: action expiry sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("enrollment: actions expired", "count", n)
			}
			// Two-person approval requests past their expiry (store.Approval).
			if n, err := s.st.ExpireApprovals(ctx, s.clock()); err != nil {
				s.log.Warn("enrollment: approval expiry sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("enrollment: approval requests expired", "count", n)
			}
		}
	}
}

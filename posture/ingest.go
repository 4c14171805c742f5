package posture

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// externalEntry is how one source's observation is kept in
// store.Posture.External[source].
// Signals is []collect.Signal; read it with DecodeSignals.
type externalEntry struct {
	Source     string          `json:"source"`
	ObservedAt time.Time       `json:"observed_at"`
	ReceivedAt time.Time       `json:"received_at"`
	Signals    json.RawMessage `json:"signals"`
}

// Ingest accepts an agent's posture report for a device: it drops what
// the device's data profile forbids (and positions outside working
// hours), stores the rest, recomputes checks, compliance and trust, moves
// the escalation state, and writes all of it with the history events in
// one store write. A replay (Seq not above the last accepted) is refused
// with ErrReplay; unknown and retired devices with ErrUnknownDevice and
// ErrRetired. Errors are *apperr.Error values.
func (e *Engine) Ingest(ctx context.Context, deviceID string, r Report) error {
	out, err := e.ingest(ctx, deviceID, r)
	if err != nil {
		return err
	}
	e.enqueue(ctx, deviceID, out.actions) // outside the device lock: the queue may call back
	return nil
}

func (e *Engine) ingest(ctx context.Context, deviceID string, r Report) (outcome, error) {
	cfg := e.Config()
	unlock := e.lock(deviceID)
	defer unlock()
	old, err := e.device(deviceID)
	if err != nil {
		return outcome{}, err
	}
	prev, hasPrev := e.st.Posture(deviceID)
	if err := e.checkSeq(deviceID, r.Seq, prev, hasPrev); err != nil {
		return outcome{}, err
	}
	now := e.clock()
	nd := *old
	if r.TimeZone != "" && r.TimeZone != nd.TimeZone {
		if e.zone(r.TimeZone) != nil {
			nd.TimeZone = r.TimeZone
		} else {
			e.log.Debug("posture: ignoring unknown time zone", "device", deviceID, "zone", r.TimeZone)
		}
	}
	prof := cfg.Profile(&nd)
	kept, dropped := prof.filter(r.Signals, e.zone(nd.TimeZone), now)
	if len(dropped) > 0 {
		e.log.Debug("posture: dropped signals the data profile forbids", "device", deviceID, "signals", strings.Join(dropped, ","))
	}
	raw, err := encodeSignals(kept)
	if err != nil {
		return outcome{}, fmt.Errorf("posture: encode signals: %w", err)
	}
	np := &store.Posture{ID: deviceID, ReportedAt: now, ReportSeq: r.Seq, Signals: raw}
	var ext map[string][]collect.Signal
	if hasPrev {
		np.External = prev.External
		ext = e.externals(cfg, prev, now)
	}
	nd.LastSeen = now
	checkInFacts(&nd, kept)
	out := settle(e.forDevice(cfg, old), old, &nd, kept, ext, now, true)
	if err := e.st.Write(ctx, out.ops(store.Put(np))...); err != nil {
		return outcome{}, fmt.Errorf("posture: store report: %w", err)
	}
	e.logWould(&out)
	return out, nil
}

// checkSeq accepts a report's seq only above the last accepted one (else a
// replay) and at most MaxSeqStep above it, so that no single report can
// move the counter out of reach. A stored seq above MaxSeq (accepted by an
// older Portier, which had no bound) is not trusted: the device starts over
// from the report at hand instead of staying stuck.
func (e *Engine) checkSeq(deviceID string, seq uint64, prev *store.Posture, hasPrev bool) error {
	if seq > MaxSeq {
		return apperr.Field("seq", "seq must be a whole number from 1 to %d", uint64(MaxSeq))
	}
	var last uint64
	if hasPrev {
		last = prev.ReportSeq
	}
	if last > MaxSeq {
		e.log.Warn("posture: ignoring an out-of-range stored report seq", "device", deviceID, "stored_seq", last)
		last = 0
	}
	if seq == 0 || seq <= last {
		return errReplay(fmt.Sprintf("report %d is not newer than the last accepted report", seq))
	}
	if seq-last > MaxSeqStep {
		return apperr.Field("seq", "seq %d is too far ahead of the last accepted report (%d): it may be at most %d higher",
			seq, last, MaxSeqStep)
	}
	return nil
}

// checkInFacts copies what the inventory shows from the report.
func checkInFacts(d *store.Device, sigs []collect.Signal) {
	for _, s := range sigs {
		v, ok := s.Value.(string)
		if !ok || !s.OK() {
			continue
		}
		switch s.Name {
		case collect.OSVersion:
			d.OSVersion = v
		case collect.AgentVersion:
			d.AgentVersion = v
		case collect.OSID:
			if d.Platform == "" {
				switch v {
				case "macos", "windows":
					d.Platform = v
				default:
					d.Platform = "linux"
				}
			}
		}
	}
}

// externals decodes the current observations of the configured sources,
// skipping sources no longer configured and observations past their age.
func (e *Engine) externals(cfg *Config, p *store.Posture, now time.Time) map[string][]collect.Signal {
	if len(p.External) == 0 {
		return nil
	}
	out := make(map[string][]collect.Signal, len(p.External))
	for name, raw := range p.External {
		src, ok := cfg.Sources[name]
		if !ok {
			continue
		}
		var entry struct {
			ObservedAt time.Time       `json:"observed_at"`
			Signals    json.RawMessage `json:"signals"`
		}
		if err := json.Unmarshal(raw, &entry); err != nil {
			e.log.Warn("posture: unreadable external posture", "device", p.ID, "source", name, "err", err)
			continue
		}
		if now.Sub(entry.ObservedAt) > src.MaxAge {
			continue
		}
		sigs, err := DecodeSignals(entry.Signals)
		if err != nil {
			e.log.Warn("posture: unreadable external signals", "device", p.ID, "source", name, "err", err)
			continue
		}
		kept := sigs[:0]
		for _, s := range sigs {
			if src.Allowed.Has(s.Name) {
				kept = append(kept, s)
			}
		}
		out[name] = kept
	}
	return out
}

// Recompute re-evaluates a device from its stored posture, for callers
// that changed its lifecycle, groups or ownership. A retired device is
// recomputed too (its trust drops to untrusted). Unknown devices give
// ErrUnknownDevice.
func (e *Engine) Recompute(ctx context.Context, deviceID string) error {
	return e.recompute(ctx, deviceID, e.clock())
}

func (e *Engine) recompute(ctx context.Context, deviceID string, now time.Time) error {
	actions, err := e.recomputeLocked(ctx, deviceID, now)
	e.enqueue(ctx, deviceID, actions)
	return err
}

func (e *Engine) recomputeLocked(ctx context.Context, deviceID string, now time.Time) ([]queued, error) {
	cfg := e.Config()
	unlock := e.lock(deviceID)
	defer unlock()
	old, ok := e.st.Device(deviceID)
	if !ok {
		return nil, errUnknown()
	}
	var agent []collect.Signal
	var ext map[string][]collect.Signal
	if p, ok := e.st.Posture(deviceID); ok {
		var err error
		if agent, err = DecodeSignals(p.Signals); err != nil {
			e.log.Warn("posture: unreadable stored posture; evaluating without it", "device", deviceID, "err", err)
		}
		ext = e.externals(cfg, p, now)
	}
	nd := *old
	out := settle(e.forDevice(cfg, old), old, &nd, agent, ext, now, false)
	if !changed(old, &nd) && len(out.events) == 0 {
		return nil, nil
	}
	if err := e.st.Write(ctx, out.ops()...); err != nil {
		return nil, fmt.Errorf("posture: store recomputed device: %w", err)
	}
	e.logWould(&out)
	return out.actions, nil
}

// ResetEscalation ends a device's escalation streak, as when an admin
// releases it from quarantine: the state returns to active, the ladder
// starts again from the next evaluation, and the history says who did it.
func (e *Engine) ResetEscalation(ctx context.Context, deviceID, actor string) error {
	unlock := e.lock(deviceID)
	old, err := e.device(deviceID)
	if err != nil {
		unlock()
		return err
	}
	nd := *old
	nd.FailingSince, nd.EscalationStep = time.Time{}, ""
	if nd.State == store.DeviceQuarantined {
		nd.State = store.DeviceActive
	}
	ev := store.NewDeviceEvent(e.clock(), deviceID, EventEscalationReset, map[string]string{"by": actor, "previous_step": old.EscalationStep, "previous_state": string(old.State)})
	err = e.st.Write(ctx, store.Put(&nd), store.Put(ev))
	unlock()
	if err != nil {
		return fmt.Errorf("posture: reset escalation: %w", err)
	}
	return e.Recompute(ctx, deviceID)
}

// Explain evaluates a device from its stored posture at the current time,
// without writing anything: the per-check messages and remediation the
// console and the deny page show (the device record keeps only the names).
func (e *Engine) Explain(deviceID string) (Evaluation, error) {
	d, ok := e.st.Device(deviceID)
	if !ok {
		return Evaluation{}, errUnknown()
	}
	cfg, now := e.Config(), e.clock()
	var agent []collect.Signal
	var ext map[string][]collect.Signal
	if p, ok := e.st.Posture(deviceID); ok {
		agent, _ = DecodeSignals(p.Signals)
		ext = e.externals(cfg, p, now)
	}
	return e.forDevice(cfg, d).Evaluate(d, agent, ext, now), nil
}

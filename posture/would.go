package posture

import (
	"strings"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// EventWouldEscalate is the device history entry of a would-be escalation
// (a report-only policy's), and AuditWouldEscalate its audit action.
const (
	EventWouldEscalate = "would_escalate"
	AuditWouldEscalate = "compliance.would_escalate"
)

// Would-be actions named in a would-be escalation's detail.
const (
	WouldMessage        = "message"
	WouldTrustDowngrade = "trust_downgrade"
	WouldQuarantine     = "quarantine"
	WouldSelectiveWipe  = "selective_wipe"
)

// would computes nd's would-be verdict: the device evaluated with the
// report-only policies enforced, its streak carried by old.Would. Every
// step of the would-be ladder newly reached that the real verdict did not
// reach, and every would-be trust below the real one, is recorded as a
// history entry and an audit event. Nothing else changes: no trust, no
// state, no action.
func (o *outcome) would(cfg *Config, old, nd *store.Device, agent []collect.Signal, ext map[string][]collect.Signal, now time.Time) {
	nd.Would = nil
	sh := cfg.shadow
	if sh == nil || nd.State == store.DeviceRetired || nd.State == store.DeviceWiped {
		return
	}
	wd := *nd
	wd.FailingSince, wd.EscalationStep = time.Time{}, ""
	prev := old.Would
	if prev != nil {
		wd.FailingSince, wd.EscalationStep = prev.FailingSince, prev.EscalationStep
	}
	set := sh.assigned(&wd)
	var ids []string
	for _, p := range set.policies {
		if containsPolicy(cfg.ReportOnly, p) { // report-only for this device (not enforced for its wave)
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return // no report-only policy applies to this device
	}
	wev := sh.Evaluate(&wd, agent, ext, now)
	w := &store.WouldCompliance{Policies: ids, Compliant: wev.Compliant, FailingChecks: wev.Failing,
		FailingSince: wev.FailingSince, EscalationStep: wev.Step, Trust: wev.Trust, TrustReason: wev.TrustReason, State: nd.State}
	if wev.Step == StepQuarantine {
		w.State = store.DeviceQuarantined
	}
	nd.Would = w
	// The report-only policies among those whose checks fail: the cause.
	var cause []string
	for _, r := range wev.Checks {
		for _, id := range r.Policies {
			if r.Status != Pass && contains(ids, id) && !contains(cause, id) {
				cause = append(cause, id)
			}
		}
	}
	if len(cause) == 0 {
		return // what fails, fails for the enforced policies too
	}
	prevRank := 0
	if prev != nil && !prev.FailingSince.IsZero() {
		prevRank = stepRank(prev.EscalationStep)
	}
	record := func(step, action string, extra map[string]string) {
		d := map[string]string{"step": step, "would_action": action, "policies": strings.Join(cause, ","),
			"failing_checks": strings.Join(wev.Failing, ","), "trust": nd.Trust.String(), "would_trust": wev.Trust.String()}
		for k, v := range extra {
			d[k] = v
		}
		at := now.Add(time.Duration(len(o.events)))
		o.events = append(o.events, store.NewDeviceEvent(at, nd.ID, EventWouldEscalate, d))
		ev := store.NewAuditEvent(at, RequestedBy, AuditWouldEscalate, nd.ID)
		ev.Detail = d
		o.audit = append(o.audit, ev)
	}
	realRank := stepRank(nd.EscalationStep)
	for i, s := range wev.Ladder.Steps {
		r := stepRank(s.Name)
		if r <= prevRank || r > stepRank(wev.Step) || r <= realRank {
			continue
		}
		due := map[string]string{"due": wev.Due[i].UTC().Format(time.RFC3339)}
		switch s.Name {
		case StepNotify:
			record(s.Name, WouldMessage, due)
		case StepQuarantine:
			record(s.Name, WouldQuarantine, due)
			if wev.Ladder.QueueSelectiveWipe {
				record(s.Name, WouldSelectiveWipe, due)
			}
		default:
			record(s.Name, WouldTrustDowngrade, due)
		}
	}
	if wev.Trust < nd.Trust && (prev == nil || prev.Trust != wev.Trust) {
		record("trust", WouldTrustDowngrade, map[string]string{"reason": wev.TrustReason})
	}
}

// wouldDue reports whether time has changed the device's would-be
// verdict: its would-be next step is due or it has just gone stale.
func wouldDue(cfg *Config, d *store.Device, now time.Time) bool {
	if cfg.shadow == nil || d.Would == nil {
		return false
	}
	wd := *d
	wd.FailingSince, wd.EscalationStep, wd.FailingChecks, wd.Would = d.Would.FailingSince, d.Would.EscalationStep, d.Would.FailingChecks, nil
	return dueOn(cfg.shadow, &wd, now)
}

// logWould logs the would-be escalations a written outcome recorded.
func (e *Engine) logWould(o *outcome) {
	for _, ev := range o.audit {
		e.log.Info("posture: a report-only compliance policy would escalate; nothing was done",
			"kind", AuditWouldEscalate, "device", ev.Target, "step", ev.Detail["step"], "would_action", ev.Detail["would_action"],
			"policies", ev.Detail["policies"])
	}
}

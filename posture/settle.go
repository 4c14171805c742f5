package posture

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// History event types written by posture (store.DeviceEvent.Type).
const (
	EventCheckFailing       = "check_failing"
	EventCheckRecovered     = "check_recovered"
	EventNonCompliant       = "non_compliant"
	EventComplianceRestored = "compliance_restored"
	EventEscalation         = "escalation"
	EventTrustChanged       = "trust_changed"
	EventProvisioned        = "provisioned"
	EventEscalationReset    = "escalation_reset"
)

// outcome is a settled evaluation: the device to store, its history
// events and the actions to queue once written.
type outcome struct {
	ev      Evaluation
	dev     *store.Device
	events  []*store.DeviceEvent
	actions []queued
	audit   []*store.AuditEvent // would-be escalations (report-only policies)
}

// settle evaluates nd (a copy of old, already updated with the check-in
// facts) and fills in compliance, trust and escalation, and the history of
// what changed since old.
func settle(cfg *Config, old, nd *store.Device, agent []collect.Signal, ext map[string][]collect.Signal, now time.Time, checkIn bool) outcome {
	ev := cfg.Evaluate(nd, agent, ext, now)
	out := outcome{ev: ev, dev: nd}
	if nd.State == store.DeviceRetired || nd.State == store.DeviceWiped {
		// A retired device keeps its last verdict for the record; only its
		// trust drops, and nothing escalates any more.
		if old.Trust != store.TrustUntrusted {
			out.events = append(out.events, store.NewDeviceEvent(now, nd.ID, EventTrustChanged, map[string]string{"from": old.Trust.String(), "to": store.TrustUntrusted.String(), "reason": ev.TrustReason}))
		}
		nd.Trust = store.TrustUntrusted
		return out
	}
	event := func(typ string, detail map[string]string) {
		// Event ids sort by time; a nanosecond apart keeps one settle's events in order.
		at := now.Add(time.Duration(len(out.events)))
		out.events = append(out.events, store.NewDeviceEvent(at, nd.ID, typ, detail))
	}
	for _, r := range ev.Checks {
		was := slices.Contains(old.FailingChecks, r.Name)
		switch {
		case r.Status != Pass && !was:
			event(EventCheckFailing, map[string]string{"check": r.Name, "status": string(r.Status), "message": r.Message, "policies": strings.Join(r.Policies, ",")})
		case r.Status == Pass && was:
			event(EventCheckRecovered, map[string]string{"check": r.Name, "message": r.Message})
		}
	}
	oldRank := 0
	if !old.FailingSince.IsZero() {
		oldRank = stepRank(old.EscalationStep)
	}
	switch {
	case ev.Compliant && !old.FailingSince.IsZero():
		event(EventComplianceRestored, map[string]string{"non_compliant_since": old.FailingSince.UTC().Format(time.RFC3339)})
	case !ev.Compliant && old.FailingSince.IsZero():
		d := map[string]string{"failing_checks": strings.Join(ev.Failing, ",")}
		if ev.Step != "" {
			d["grace_ends"] = ev.FailingSince.Add(ev.Grace).UTC().Format(time.RFC3339)
		}
		event(EventNonCompliant, d)
	}
	for i, s := range ev.Ladder.Steps {
		r := stepRank(s.Name)
		if r <= oldRank || r > stepRank(ev.Step) {
			continue
		}
		d := map[string]string{"step": s.Name, "due": ev.Due[i].UTC().Format(time.RFC3339), "failing_checks": strings.Join(ev.Failing, ",")}
		switch s.Name {
		case StepNotify:
			out.actions = append(out.actions, queued{"message", notifyParams(nd, &ev)})
			d["queued_action"] = "message"
		case StepQuarantine:
			nd.State = store.DeviceQuarantined
			if ev.Ladder.QueueSelectiveWipe {
				out.actions = append(out.actions, queued{"selective_wipe", map[string]string{"reason": "compliance quarantine", "failing_checks": strings.Join(ev.Failing, ",")}})
				d["queued_action"] = "selective_wipe"
			}
		}
		event(EventEscalation, d)
	}
	if checkIn && ev.Compliant && !nd.ProvisionStart.IsZero() && nd.ProvisionedAt.IsZero() {
		nd.ProvisionedAt = now
		event(EventProvisioned, map[string]string{"seconds": fmt.Sprintf("%.0f", now.Sub(nd.ProvisionStart).Seconds())})
	}
	if ev.Trust != old.Trust {
		event(EventTrustChanged, map[string]string{"from": old.Trust.String(), "to": ev.Trust.String(), "reason": ev.TrustReason})
	}
	nd.Compliant, nd.Trust = ev.Compliant, ev.Trust
	nd.PassingChecks, nd.FailingChecks = ev.Passing, ev.Failing
	nd.FailingSince, nd.EscalationStep = ev.FailingSince, ev.Step
	out.would(cfg, old, nd, agent, ext, now)
	return out
}

// notifyParams is the message the agent shows for the notify step.
func notifyParams(d *store.Device, ev *Evaluation) map[string]string {
	var b strings.Builder
	b.WriteString("This device does not meet your organization's security requirements:")
	for _, r := range ev.Checks {
		if r.Status != Pass {
			fmt.Fprintf(&b, "\n- %s: %s. %s", r.Name, r.Message, r.Remediation)
		}
	}
	if !ev.NextDue.IsZero() {
		fmt.Fprintf(&b, "\nFix it before %s to keep your access.", ev.NextDue.UTC().Format("2006-01-02 15:04 MST"))
	}
	return map[string]string{"title": "Action needed: device not compliant", "text": b.String(), "reason": "compliance"}
}

// changed reports whether settling changed anything the store must keep.
func changed(old, nd *store.Device) bool {
	return old.Trust != nd.Trust || old.Compliant != nd.Compliant || old.State != nd.State ||
		!old.FailingSince.Equal(nd.FailingSince) || old.EscalationStep != nd.EscalationStep ||
		!slices.Equal(old.PassingChecks, nd.PassingChecks) || !slices.Equal(old.FailingChecks, nd.FailingChecks) ||
		!old.ProvisionedAt.Equal(nd.ProvisionedAt) || !old.Would.Equal(nd.Would)
}

// ops turns an outcome into store writes.
func (o *outcome) ops(extra ...store.Op) []store.Op {
	ops := make([]store.Op, 0, len(extra)+1+len(o.events)+len(o.audit))
	ops = append(ops, extra...)
	ops = append(ops, store.Put(o.dev))
	for _, ev := range o.events {
		ops = append(ops, store.Put(ev))
	}
	for _, ev := range o.audit {
		ops = append(ops, store.Put(ev))
	}
	return ops
}

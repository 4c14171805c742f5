package posture

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// modesPolicy: an enforced baseline the device passes, and a stricter
// policy in the mode given, which the device fails (no disk encryption).
func modesPolicy(mode string) string {
	return `
compliance:
  - id: base
    platforms: [linux]
    checks: {firewall: required}
  - id: strict
    mode: ` + mode + `
    platforms: [linux]
    checks: {disk_encryption: required}
    grace: 0s
    escalation:
      notify: 0s
      lower_trust: 1h
      block: 2h
      quarantine: 3h
      queue_selective_wipe: true
`
}

// wouldAudit is the would-be escalations in the audit log, as step/action.
func wouldAudit(st *store.Store, device string) []string {
	var out []string
	for _, ev := range st.Audit() {
		if ev.Action == AuditWouldEscalate && ev.Target == device {
			out = append(out, ev.Detail["step"]+"/"+ev.Detail["would_action"])
		}
	}
	return out
}

// TestReportOnlyComplianceNeverActs: a report-only policy computes the
// verdict and the escalation it would apply, records them, and changes
// nothing: the device keeps its trust and state, and no action is queued,
// all the way up its would-be ladder.
func TestReportOnlyComplianceNeverActs(t *testing.T) {
	v := newEnv(t, modesPolicy(ModeReportOnly))
	v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.DiskEncrypted, false))); err != nil {
		t.Fatal(err)
	}
	d := v.device(t, "d1")
	if !d.Compliant || d.Trust != store.TrustHigh || d.EscalationStep != "" {
		t.Fatalf("real verdict = compliant %v trust %s step %q; report-only must not change it", d.Compliant, d.Trust, d.EscalationStep)
	}
	w := d.Would
	if w == nil || w.Compliant || w.EscalationStep != StepNotify || w.Trust != store.TrustMedium ||
		!slices.Equal(w.Policies, []string{"strict"}) || !slices.Contains(w.FailingChecks, CheckDiskEncrypted) {
		t.Fatalf("would = %+v, want non-compliant at notify, trust medium, policy strict failing disk_encryption", w)
	}
	if got := strings.Join(wouldAudit(v.st, "d1"), ","); got != "notify/message,trust/trust_downgrade" {
		t.Errorf("would-be escalations audited = %q", got)
	}
	for _, at := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 10 * time.Hour} {
		now := t0.Add(at)
		v.clock.Set(now)
		if err := v.e.Tick(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	d = v.device(t, "d1")
	if len(v.queue.types()) != 0 {
		t.Errorf("a report-only policy queued actions: %v", v.queue.types())
	}
	if !d.Compliant || d.Trust != store.TrustHigh || d.State != store.DeviceActive || d.EscalationStep != "" {
		t.Errorf("after the would-be ladder: compliant %v trust %s state %s step %q; want unchanged", d.Compliant, d.Trust, d.State, d.EscalationStep)
	}
	if d.Would.EscalationStep != StepQuarantine || d.Would.State != store.DeviceQuarantined || d.Would.Trust != store.TrustUntrusted {
		t.Errorf("would after 10h = %+v, want quarantined and untrusted", d.Would)
	}
	want := "notify/message,trust/trust_downgrade,lower_trust/trust_downgrade,trust/trust_downgrade,block/trust_downgrade,trust/trust_downgrade,quarantine/quarantine,quarantine/selective_wipe"
	if got := strings.Join(wouldAudit(v.st, "d1"), ","); got != want {
		t.Errorf("would-be escalations audited =\n%s\nwant\n%s", got, want)
	}
	if n := strings.Count(strings.Join(v.eventTypes("d1"), ","), EventWouldEscalate); n != 8 {
		t.Errorf("device history has %d would-be escalations, want 8: %v", n, v.eventTypes("d1"))
	}
	// Fixed: the would-be verdict recovers too, and nothing more is recorded.
	if err := v.e.Ingest(ctx, "d1", linuxReport(2)); err != nil {
		t.Fatal(err)
	}
	if d = v.device(t, "d1"); d.Would == nil || !d.Would.Compliant || d.Would.EscalationStep != "" {
		t.Errorf("would after the fix = %+v, want compliant", d.Would)
	}
}

// TestDraftComplianceIsNotEvaluated: a draft applies to no device and
// computes nothing.
func TestDraftComplianceIsNotEvaluated(t *testing.T) {
	v := newEnv(t, modesPolicy(ModeDraft))
	v.addDevice(t, &store.Device{ID: "d1"})
	if err := v.e.Ingest(context.Background(), "d1", linuxReport(1, sig(collect.DiskEncrypted, false))); err != nil {
		t.Fatal(err)
	}
	d := v.device(t, "d1")
	if !d.Compliant || d.Trust != store.TrustHigh || d.Would != nil || len(wouldAudit(v.st, "d1")) != 0 {
		t.Errorf("with a draft: compliant %v trust %s would %+v; want compliant, high, nothing would-be", d.Compliant, d.Trust, d.Would)
	}
	if got := v.e.Config().PoliciesFor(d); !slices.Equal(got, []string{"base"}) {
		t.Errorf("policies for the device = %v, want only base", got)
	}
}

// TestEnforcedComplianceActs: the same policy enforced escalates for real.
// Promoting it from report-only acts on the next evaluation: the message
// is queued and the trust drops, and the would-be verdict is gone.
func TestEnforcedComplianceActs(t *testing.T) {
	v := newEnv(t, modesPolicy(ModeReportOnly))
	v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.DiskEncrypted, false))); err != nil {
		t.Fatal(err)
	}
	if len(v.queue.types()) != 0 {
		t.Fatalf("report-only queued %v", v.queue.types())
	}
	v.e.SetConfig(parseCfg(t, modesPolicy(ModeEnforce)))
	now := t0.Add(time.Minute)
	v.clock.Set(now)
	if err := v.e.RecomputeAll(ctx); err != nil {
		t.Fatal(err)
	}
	d := v.device(t, "d1")
	if got := v.queue.types(); !slices.Equal(got, []string{"message"}) {
		t.Errorf("after promotion to enforce queued %v, want the notify message", got)
	}
	if d.Compliant || d.Trust != store.TrustMedium || d.EscalationStep != StepNotify || d.Would != nil {
		t.Errorf("after promotion: compliant %v trust %s step %q would %+v; want non-compliant, medium, notify, no would", d.Compliant, d.Trust, d.EscalationStep, d.Would)
	}
	v.clock.Set(now.Add(3 * time.Hour))
	if err := v.e.Tick(ctx, now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d = v.device(t, "d1"); d.State != store.DeviceQuarantined || !slices.Contains(v.queue.types(), "selective_wipe") {
		t.Errorf("enforced ladder: state %s queued %v, want quarantined with a selective wipe", d.State, v.queue.types())
	}
}

// TestComplianceModeParse: mode takes draft, report-only or enforce.
func TestComplianceModeParse(t *testing.T) {
	msg := parseErr(t, modesPolicy("sometimes"))
	if !strings.Contains(msg, "test.yaml:") || !strings.Contains(msg, "mode must be draft, report-only or enforce") {
		t.Errorf("bad mode error = %q", msg)
	}
	c := parseCfg(t, modesPolicy(ModeReportOnly))
	if len(c.Policies) != 1 || len(c.ReportOnly) != 1 || c.ReportOnly[0].ID != "strict" {
		t.Errorf("policies %d, report-only %v", len(c.Policies), c.ReportOnly)
	}
}

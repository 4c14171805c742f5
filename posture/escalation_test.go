package posture

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

const ladderPolicy = `
compliance:
  - id: strict
    platforms: [linux]
    checks: {disk_encryption: required, firewall: required}
    grace: 72h
    escalation:
      notify: 0s
      lower_trust: 24h
      block: 48h
      quarantine: 96h
      queue_selective_wipe: true
`

func TestEscalationLadderMovesWithTime(t *testing.T) {
	v := newEnv(t, ladderPolicy)
	v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.DiskEncrypted, false))); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after time.Duration
		step  string
		trust store.Trust
		state store.DeviceState
		queue string
	}{
		{0, StepGrace, store.TrustMedium, store.DeviceActive, ""},
		{71 * time.Hour, StepGrace, store.TrustMedium, store.DeviceActive, ""},
		{72 * time.Hour, StepNotify, store.TrustMedium, store.DeviceActive, "message"},
		{95 * time.Hour, StepNotify, store.TrustMedium, store.DeviceActive, "message"},
		{96 * time.Hour, StepLowerTrust, store.TrustLow, store.DeviceActive, "message"},
		{120 * time.Hour, StepBlock, store.TrustUntrusted, store.DeviceActive, "message"},
		{168 * time.Hour, StepQuarantine, store.TrustUntrusted, store.DeviceQuarantined, "message,selective_wipe"},
		{300 * time.Hour, StepQuarantine, store.TrustUntrusted, store.DeviceQuarantined, "message,selective_wipe"},
	}
	for _, s := range steps {
		now := t0.Add(s.after)
		v.clock.Set(now)
		if err := v.e.Tick(ctx, now); err != nil {
			t.Fatal(err)
		}
		d := v.device(t, "d1")
		if d.EscalationStep != s.step || d.Trust != s.trust || d.State != s.state || strings.Join(v.queue.types(), ",") != s.queue {
			t.Errorf("at +%s: step %q trust %s state %s queued %v; want %q %s %s %q", s.after, d.EscalationStep, d.Trust, d.State, v.queue.types(), s.step, s.trust, s.state, s.queue)
		}
	}
	var got []string
	for _, ev := range v.st.DeviceEvents("d1") {
		if ev.Type == EventEscalation {
			got = append(got, ev.Detail["step"]+"@"+ev.At.Sub(t0).String())
		}
	}
	if want := "notify@72h0m0s,lower_trust@96h0m0s,block@120h0m0s,quarantine@168h0m0s"; strings.Join(got, ",") != want {
		t.Errorf("escalation history = %v, want %s", got, want)
	}
	v.queue.mu.Lock()
	msg := v.queue.calls[0]
	v.queue.mu.Unlock()
	if msg.by != RequestedBy || !strings.Contains(msg.params["text"], "disk_encrypted") || !strings.Contains(msg.params["text"], "FileVault") && !strings.Contains(msg.params["text"], "LUKS") {
		t.Errorf("notify message = %+v", msg)
	}

	// Fixing the device restores compliance but not the quarantine: an admin releases it.
	v.clock.Set(t0.Add(301 * time.Hour))
	if err := v.e.Ingest(ctx, "d1", linuxReport(2)); err != nil {
		t.Fatal(err)
	}
	d := v.device(t, "d1")
	if !d.Compliant || d.State != store.DeviceQuarantined || d.Trust != store.TrustUntrusted || d.EscalationStep != "" {
		t.Errorf("after fix: %+v", d)
	}
	if err := v.e.ResetEscalation(ctx, "d1", "user:admin@example.com"); err != nil {
		t.Fatal(err)
	}
	d = v.device(t, "d1")
	if d.State != store.DeviceActive || d.Trust != store.TrustHigh {
		t.Errorf("after release: state %s trust %s", d.State, d.Trust)
	}
}

func TestEscalationJumpsSeveralStepsAfterDowntime(t *testing.T) {
	v := newEnv(t, ladderPolicy)
	v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	if err := v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.FirewallEnabled, false))); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(125 * time.Hour) // the scheduler was down past notify, lower_trust and block
	if err := v.e.Tick(ctx, now); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.eventTypes("d1"), " "); !strings.Contains(got, "escalation:notify escalation:lower_trust escalation:block") {
		t.Errorf("events = %s", got)
	}
	if d := v.device(t, "d1"); d.EscalationStep != StepBlock || d.Trust != store.TrustUntrusted {
		t.Errorf("device = %+v", d)
	}
}

func TestNoLadderNoEscalation(t *testing.T) {
	v := newEnv(t, "compliance:\n  - id: p\n    checks: {firewall: required}\n    escalation: none\n")
	v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	_ = v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.FirewallEnabled, false)))
	_ = v.e.Tick(ctx, t0.Add(1000*time.Hour))
	if d := v.device(t, "d1"); d.EscalationStep != StepGrace || d.Trust != store.TrustMedium || len(v.queue.types()) != 0 {
		t.Errorf("device = %+v", d)
	}
}

func TestActionQueueFailureIsLoggedNotFatal(t *testing.T) {
	v := newEnv(t, ladderPolicy)
	v.queue.fn = func(string, string) error { return errors.New("queue down") }
	v.addDevice(t, &store.Device{ID: "d1"})
	ctx := context.Background()
	_ = v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.FirewallEnabled, false)))
	if err := v.e.Tick(ctx, t0.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := v.device(t, "d1"); d.EscalationStep != StepNotify {
		t.Errorf("step = %q", d.EscalationStep)
	}
}

func TestStaleDevicesLoseTrust(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	v.addDevice(t, &store.Device{ID: "d1"})
	v.addDevice(t, &store.Device{ID: "d2"})
	ctx := context.Background()
	_ = v.e.Ingest(ctx, "d1", linuxReport(1))
	_ = v.e.Ingest(ctx, "d2", linuxReport(1))
	// d2 keeps reporting; d1 goes quiet.
	v.clock.Set(t0.Add(20 * time.Hour))
	_ = v.e.Ingest(ctx, "d2", linuxReport(2))
	if err := v.e.Tick(ctx, t0.Add(23*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d := v.device(t, "d1"); d.Trust != store.TrustHigh {
		t.Fatalf("d1 stale too early: %s", d.Trust)
	}
	v.clock.Set(t0.Add(25 * time.Hour))
	if err := v.e.Tick(ctx, t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	d1, d2 := v.device(t, "d1"), v.device(t, "d2")
	if d1.Trust != store.TrustUntrusted || d1.Compliant || strings.Join(d1.FailingChecks, ",") != CheckRecentCheckin {
		t.Errorf("d1 = %+v", d1)
	}
	if d2.Trust != store.TrustHigh {
		t.Errorf("d2 = %s", d2.Trust)
	}
	// A check-in brings it back at once.
	_ = v.e.Ingest(ctx, "d1", linuxReport(2))
	if d := v.device(t, "d1"); d.Trust != store.TrustHigh {
		t.Errorf("after check-in: %s", d.Trust)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- v.e.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestActionQueueMayCallBack(t *testing.T) {
	v := newEnv(t, ladderPolicy)
	ctx := context.Background()
	v.queue.fn = func(id, _ string) error { return v.e.Recompute(ctx, id) } // would deadlock if called under the device lock
	v.addDevice(t, &store.Device{ID: "d1"})
	_ = v.e.Ingest(ctx, "d1", linuxReport(1, sig(collect.FirewallEnabled, false)))
	done := make(chan error, 1)
	go func() { done <- v.e.Tick(ctx, t0.Add(200*time.Hour)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: the action queue was called under the device lock")
	}
	if got := strings.Join(v.queue.types(), ","); got != "message,selective_wipe" {
		t.Errorf("queued = %s", got)
	}
}

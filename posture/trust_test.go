package posture

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

func TestTrustTable(t *testing.T) {
	c := parseCfg(t, `
compliance:
  - id: p
    platforms: [linux]
    checks: {firewall: required, max_checkin_age: 24h}
    grace: 72h
    escalation: {notify: 0s, lower_trust: 24h, block: 48h, quarantine: 96h}
`)
	good := []collect.Signal{sig(collect.FirewallEnabled, true)}
	bad := []collect.Signal{sig(collect.FirewallEnabled, false)}
	failing := t0.Add(-72 * time.Hour) // grace just ended
	tests := []struct {
		name string
		d    store.Device
		sigs []collect.Signal
		want store.Trust
		step string
	}{
		{"corporate compliant hardware key", store.Device{Ownership: store.OwnershipCorporate, KeyProtection: store.KeyHardware}, good, store.TrustHigh, ""},
		{"cope compliant hardware key", store.Device{Ownership: store.OwnershipCOPE, KeyProtection: store.KeyHardware}, good, store.TrustHigh, ""},
		{"corporate compliant software key", store.Device{Ownership: store.OwnershipCorporate, KeyProtection: store.KeySoftware}, good, store.TrustMedium, ""},
		{"corporate compliant key unknown", store.Device{Ownership: store.OwnershipCorporate}, good, store.TrustMedium, ""},
		{"corporate compliant key odd value", store.Device{Ownership: store.OwnershipCorporate, KeyProtection: "HARDWARE "}, good, store.TrustMedium, ""},
		{"byod compliant hardware key", store.Device{Ownership: store.OwnershipBYOD, WorkProfile: true, KeyProtection: store.KeyHardware}, good, store.TrustMedium, ""},
		{"byod compliant", store.Device{Ownership: store.OwnershipBYOD, WorkProfile: true}, good, store.TrustMedium, ""},
		{"stale hardware key", store.Device{Ownership: store.OwnershipCorporate, KeyProtection: store.KeyHardware, LastSeen: t0.Add(-25 * time.Hour)}, good, store.TrustUntrusted, StepGrace},
		{"corporate work profile", store.Device{Ownership: store.OwnershipCorporate, WorkProfile: true}, good, store.TrustMedium, ""},
		{"corporate failing in grace", store.Device{Ownership: store.OwnershipCorporate}, bad, store.TrustMedium, StepGrace},
		{"byod failing in grace", store.Device{Ownership: store.OwnershipBYOD}, bad, store.TrustLow, StepGrace},
		{"corporate at notify", store.Device{Ownership: store.OwnershipCorporate, FailingSince: failing}, bad, store.TrustMedium, StepNotify},
		{"corporate at lower_trust", store.Device{Ownership: store.OwnershipCorporate, FailingSince: failing.Add(-24 * time.Hour)}, bad, store.TrustLow, StepLowerTrust},
		{"corporate at block", store.Device{Ownership: store.OwnershipCorporate, FailingSince: failing.Add(-48 * time.Hour)}, bad, store.TrustUntrusted, StepBlock},
		{"corporate at quarantine", store.Device{Ownership: store.OwnershipCorporate, FailingSince: failing.Add(-96 * time.Hour)}, bad, store.TrustUntrusted, StepQuarantine},
		{"stale", store.Device{Ownership: store.OwnershipCorporate, LastSeen: t0.Add(-25 * time.Hour)}, good, store.TrustUntrusted, StepGrace},
		{"never seen", store.Device{Ownership: store.OwnershipCorporate, LastSeen: time.Time{}}, good, store.TrustUntrusted, StepGrace},
		{"quarantined state", store.Device{Ownership: store.OwnershipCorporate, State: store.DeviceQuarantined}, good, store.TrustUntrusted, ""},
		{"retired", store.Device{Ownership: store.OwnershipCorporate, State: store.DeviceRetired}, good, store.TrustUntrusted, ""},
		{"wiped", store.Device{Ownership: store.OwnershipCorporate, State: store.DeviceWiped}, good, store.TrustUntrusted, ""},
		{"pending", store.Device{Ownership: store.OwnershipCorporate, State: store.DevicePending}, good, store.TrustUntrusted, ""},
		{"unmanaged", store.Device{Ownership: store.OwnershipUnmanaged}, good, store.TrustUntrusted, ""},
		{"no policy", store.Device{Ownership: store.OwnershipCorporate, Platform: "macos"}, good, store.TrustLow, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			d.ID = "d"
			if d.Platform == "" {
				d.Platform = "linux"
			}
			if d.State == "" {
				d.State = store.DeviceActive
			}
			if d.LastSeen.IsZero() && tc.name != "never seen" {
				d.LastSeen = t0
			}
			if !d.FailingSince.IsZero() {
				d.EscalationStep = StepGrace
			}
			ev := c.Evaluate(&d, tc.sigs, nil, t0)
			if ev.Trust != tc.want || ev.Step != tc.step {
				t.Errorf("trust %s step %q (%s), want %s step %q", ev.Trust, ev.Step, ev.TrustReason, tc.want, tc.step)
			}
			if ev.TrustReason == "" {
				t.Error("no trust reason")
			}
		})
	}
}

func TestLaddersMergeStrictest(t *testing.T) {
	a := &Policy{ID: "a", Grace: 72 * time.Hour, Ladder: Ladder{Steps: []Step{{StepNotify, 0}, {StepLowerTrust, 24 * time.Hour}, {StepBlock, 72 * time.Hour}}}}
	b := &Policy{ID: "b", Grace: 24 * time.Hour, Ladder: Ladder{Steps: []Step{{StepBlock, 12 * time.Hour}, {StepQuarantine, 48 * time.Hour}}, QueueSelectiveWipe: true}}
	grace, l := mergeLadders([]*Policy{a, b})
	if grace != 24*time.Hour || !l.QueueSelectiveWipe {
		t.Fatalf("grace %s wipe %v", grace, l.QueueSelectiveWipe)
	}
	want := []Step{{StepNotify, 0}, {StepLowerTrust, 12 * time.Hour}, {StepBlock, 12 * time.Hour}, {StepQuarantine, 48 * time.Hour}}
	if len(l.Steps) != len(want) {
		t.Fatalf("steps = %+v", l.Steps)
	}
	for i := range want {
		if l.Steps[i] != want[i] {
			t.Errorf("step %d = %+v, want %+v", i, l.Steps[i], want[i])
		}
	}
}

// TestTickLowersTrustStoredBeforeTheKeyRule: a device stored as high by an
// earlier version, whose key is software, is brought down to medium by the
// next scheduler pass, without waiting for its agent to report.
func TestTickLowersTrustStoredBeforeTheKeyRule(t *testing.T) {
	v := newEnv(t, laptopPolicy)
	ctx := context.Background()
	v.addDevice(t, &store.Device{ID: "old", KeyProtection: store.KeySoftware})
	v.addDevice(t, &store.Device{ID: "hw"})
	_ = v.e.Ingest(ctx, "old", linuxReport(1))
	_ = v.e.Ingest(ctx, "hw", linuxReport(1))
	d := *v.device(t, "old")
	d.Trust = store.TrustHigh // as an earlier version stored it
	if err := v.st.Write(ctx, store.Put(&d)); err != nil {
		t.Fatal(err)
	}
	if err := v.e.Tick(ctx, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := v.device(t, "old").Trust; got != store.TrustMedium {
		t.Errorf("software-key device stored as high: after a tick %s, want medium", got)
	}
	if got := v.device(t, "hw").Trust; got != store.TrustHigh {
		t.Errorf("hardware-key device: %s, want high", got)
	}
}

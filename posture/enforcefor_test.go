package posture

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// wavePolicies: an enforced baseline the devices pass, and a report-only
// policy (no disk encryption fails it) enforced for the pilot wave of
// plan mdm.
const wavePolicies = `
compliance:
  - id: base
    platforms: [linux]
    checks: {firewall: required}
  - id: disks
    mode: report-only
    enforce_for:
      rollout: mdm
      waves: [pilot]
    platforms: [linux]
    checks: {disk_encryption: required}
    grace: 0s
`

func TestReportOnlyComplianceEnforcedForItsWaves(t *testing.T) {
	v := newEnv(t, wavePolicies)
	// The owner's waves, as the server's rollout index answers them.
	v.e.waves = func(d *store.Device) []string {
		switch {
		case d.OwnerEmail == "ada@example.com":
			return []string{"mdm/pilot"}
		case d.Department == "sales":
			return []string{"mdm/sales"}
		}
		return nil
	}
	ctx := context.Background()
	v.addDevice(t, &store.Device{ID: "pilot", OwnerEmail: "ada@example.com"})
	v.addDevice(t, &store.Device{ID: "sales", OwnerEmail: "bob@example.com", Department: "sales"})
	v.addDevice(t, &store.Device{ID: "none", OwnerEmail: "carl@example.com"})
	for _, id := range []string{"pilot", "sales", "none"} {
		if err := v.e.Ingest(ctx, id, linuxReport(1, sig(collect.DiskEncrypted, false))); err != nil {
			t.Fatal(err)
		}
	}
	d := v.device(t, "pilot")
	if d.Compliant || !slices.Contains(d.FailingChecks, CheckDiskEncrypted) || d.Would != nil {
		t.Errorf("pilot device: compliant %v failing %v would %+v; the policy is enforced for its owner's wave", d.Compliant, d.FailingChecks, d.Would)
	}
	if len(wouldAudit(v.st, "pilot")) != 0 {
		t.Errorf("an enforced policy was also recorded as would-be: %v", wouldAudit(v.st, "pilot"))
	}
	for _, id := range []string{"sales", "none"} {
		d := v.device(t, id)
		if !d.Compliant || d.Would == nil || d.Would.Compliant || !slices.Equal(d.Would.Policies, []string{"disks"}) {
			t.Errorf("%s device: compliant %v would %+v; outside the wave the policy is report-only", id, d.Compliant, d.Would)
		}
	}
	ev, err := v.e.Explain("pilot")
	if err != nil || ev.Compliant || strings.Join(ev.Policies, ",") != "base,disks" {
		t.Errorf("explain pilot: %+v %v", ev.Policies, err)
	}
}

func TestComplianceEnforceForParseErrors(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want, at string }{
		"enforced policy": {"compliance:\n  - id: a\n    enforce_for: {rollout: mdm, waves: [pilot]}\n    checks: {firewall: required}\n", "enforce_for needs mode: report-only", ":3:"},
		"no waves":        {"compliance:\n  - id: a\n    mode: report-only\n    enforce_for: {rollout: mdm}\n    checks: {firewall: required}\n", "enforce_for needs waves", ":4:"},
		"bad wave":        {"compliance:\n  - id: a\n    mode: report-only\n    enforce_for: {rollout: mdm, waves: [Pilot Group]}\n    checks: {firewall: required}\n", "is not a wave name", ":4:"},
	} {
		_, err := parseCfgErr(tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.at) {
			t.Errorf("%s: %v, want %q at %s", name, err, tc.want, tc.at)
		}
	}
}

// parseCfgErr is parseCfg returning the compliance error.
func parseCfgErr(doc string) (*Config, error) {
	c, err := config.Parse("test.yaml", []byte(doc))
	if err != nil {
		return nil, err
	}
	return FromConfig(c)
}

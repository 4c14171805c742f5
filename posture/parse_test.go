package posture

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

const fullConfig = `
compliance:
  - id: laptops
    description: Company laptops
    platforms: [linux, macos, windows]
    ownership: [corporate, cope]
    groups: [engineering, sales]
    checks:
      min_os_version: {macos: "14.5", windows: "10.0.22631", ubuntu: "22.04"}
      max_security_update_age_days: 14
      max_pending_security_updates: 5
      disk_encryption: required
      screen_lock_max_minutes: 10
      firewall: required
      antivirus: required
      no_root: true
      min_agent_version: "1.2.0"
      forbidden_apps: [bittorrent*, "TeamViewer"]
      required_apps: [crowdstrike-falcon-sensor]
      max_checkin_age: 24h
      secure_boot: required
    grace: 48h
    escalation:
      notify: 0s
      lower_trust: 24h
      block: 72h
      quarantine: 7d
      queue_selective_wipe: true
privacy:
  contact: dpo@example.com
  profiles:
    corporate: [all]
    cope: [security, system, apps]
    byod: [security]
  location:
    enabled: true
    ownership: [corporate]
    purpose: "Locate a lost or stolen laptop on request of its user"
    working_hours: {days: [mon-fri], from: "08:30", to: "18:00"}
    retention: 720h
  retention: {posture: 2160h, actions: 8760h, events: 4380h}
posture_sources:
  - name: falcon
    secret: "0123456789abcdef0123456789abcdef"
    signals: [antivirus.running, device.rooted]
    max_age: 48h
`

func TestParseFullConfig(t *testing.T) {
	c := parseCfg(t, fullConfig)
	if len(c.Policies) != 1 || c.DefaultCompliance {
		t.Fatalf("policies = %d, default = %v", len(c.Policies), c.DefaultCompliance)
	}
	p := c.Policies[0]
	ch := p.Checks
	if p.ID != "laptops" || p.Grace != 48*time.Hour || ch.MinOSVersion["macos"] != "14.5" || ch.MaxSecurityUpdateAgeDays != 14 ||
		ch.MaxPendingSecurityUpdates != 5 || !ch.DiskEncryption || ch.ScreenLockMaxMinutes != 10 || !ch.Firewall || !ch.Antivirus ||
		!ch.NoRoot || ch.MinAgentVersion != "1.2.0" || ch.ForbiddenApps[1] != "teamviewer" || ch.RequiredApps[0] != "crowdstrike-falcon-sensor" ||
		ch.MaxCheckinAge != 24*time.Hour || !ch.SecureBoot {
		t.Errorf("policy = %+v", p)
	}
	wantSteps := []Step{{StepNotify, 0}, {StepLowerTrust, 24 * time.Hour}, {StepBlock, 72 * time.Hour}, {StepQuarantine, 7 * 24 * time.Hour}}
	if len(p.Ladder.Steps) != 4 || !p.Ladder.QueueSelectiveWipe {
		t.Fatalf("ladder = %+v", p.Ladder)
	}
	for i, s := range wantSteps {
		if p.Ladder.Steps[i] != s {
			t.Errorf("step %d = %+v, want %+v", i, p.Ladder.Steps[i], s)
		}
	}
	l := c.Privacy.Location
	if !l.Enabled || l.Hours.String() != "mon-fri 08:30-18:00" || l.Retention != 720*time.Hour {
		t.Errorf("location = %+v (%s)", l, l.Hours)
	}
	if c.Privacy.Retention.Events != 4380*time.Hour || c.Privacy.Contact != "dpo@example.com" {
		t.Errorf("retention = %+v", c.Privacy.Retention)
	}
	if !c.Privacy.Profiles[store.OwnershipCOPE].Has(collect.AppsInstalled) || c.Privacy.Profiles[store.OwnershipBYOD].Has(collect.KernelVersion) {
		t.Errorf("profiles = %v", c.Privacy.Profiles)
	}
	s := c.Sources["falcon"]
	if s == nil || !s.Allowed.Has(collect.AntivirusRunning) || s.Allowed.Has(collect.FirewallEnabled) || s.MaxAge != 48*time.Hour {
		t.Errorf("source = %+v", s)
	}
}

func TestParseDefaults(t *testing.T) {
	c := parseCfg(t, "listen: \":8443\"\n")
	if !c.DefaultCompliance || len(c.Policies) != 1 || c.Policies[0].ID != "baseline" {
		t.Fatalf("default policies = %+v", c.Policies)
	}
	b := c.Policies[0]
	if !b.Checks.DiskEncryption || !b.Checks.Firewall || b.Checks.MaxCheckinAge != 24*time.Hour || b.Checks.MinOSVersion["ubuntu"] == "" || b.Grace != 72*time.Hour {
		t.Errorf("baseline = %+v", b)
	}
	if got := b.Ladder.Steps; len(got) != 3 || got[2].Name != StepBlock {
		t.Errorf("baseline ladder = %+v", got)
	}
	pv := c.Privacy
	if pv.Location.Enabled || pv.Retention.Posture != 90*24*time.Hour || pv.Retention.Actions != 365*24*time.Hour {
		t.Errorf("privacy = %+v", pv)
	}
	if !pv.Profiles[store.OwnershipCorporate].Has(collect.AppsInstalled) || pv.Profiles[store.OwnershipCOPE].Has(collect.AppsInstalled) ||
		pv.Profiles[store.OwnershipBYOD].Has(collect.AppsInstalled) || pv.Profiles[store.OwnershipBYOD].Has(collect.UptimeSeconds) ||
		!pv.Profiles[store.OwnershipBYOD].Has(collect.DiskEncrypted) {
		t.Errorf("default profiles wrong: %v", pv.Profiles)
	}
	if Default().Policies[0].ID != "baseline" {
		t.Error("Default() has no baseline")
	}
	// An explicitly empty compliance section means no policies at all.
	if c := parseCfg(t, "compliance: []\n"); len(c.Policies) != 0 || c.DefaultCompliance {
		t.Errorf("compliance: [] gave %d policies", len(c.Policies))
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown policy key", "compliance:\n  - id: a\n    colour: red\n    checks: {firewall: required}\n", `test.yaml:3:5: unknown key "colour" in compliance policy`},
		{"unknown check", "compliance:\n  - id: a\n    checks:\n      firewal: required\n", `test.yaml:4:7: unknown key "firewal" in checks`},
		{"bad required", "compliance:\n  - id: a\n    checks:\n      disk_encryption: yes please\n", `test.yaml:4:24: disk_encryption must be required or off`},
		{"bad duration", "compliance:\n  - id: a\n    checks: {max_checkin_age: soon}\n", `test.yaml:3:31: max_checkin_age: bad duration "soon"`},
		{"bad version", "compliance:\n  - id: a\n    checks:\n      min_os_version: {macos: sonoma}\n", `test.yaml:4:31: min_os_version.macos: version "sonoma"`},
		{"bad platform", "compliance:\n  - id: a\n    platforms: [mac]\n    checks: {firewall: required}\n", `test.yaml:3:17: unknown platform "mac"`},
		{"bad ownership", "compliance:\n  - id: a\n    ownership: [company]\n    checks: {firewall: required}\n", `test.yaml:3:17: unknown ownership "company"`},
		{"negative number", "compliance:\n  - id: a\n    checks: {screen_lock_max_minutes: 0}\n", `test.yaml:3:39: screen_lock_max_minutes must be between 1 and 1440`},
		{"missing id", "compliance:\n  - checks: {firewall: required}\n", `test.yaml:2:5: compliance policy needs an id`},
		{"missing checks", "compliance:\n  - id: a\n", `test.yaml:2:5: compliance policy "a" needs checks`},
		{"duplicate id", "compliance:\n  - id: a\n    checks: {firewall: required}\n  - id: a\n    checks: {firewall: required}\n", `test.yaml:4:5: duplicate compliance policy id "a" (first defined at line 2)`},
		{"ladder order", "compliance:\n  - id: a\n    checks: {firewall: required}\n    escalation: {notify: 48h, block: 24h}\n", `test.yaml:4:31: escalation block (24h0m0s) comes before notify`},
		{"wipe without quarantine", "compliance:\n  - id: a\n    checks: {firewall: required}\n    escalation: {block: 1h, queue_selective_wipe: true}\n", `test.yaml:4:29: queue_selective_wipe needs a quarantine step`},
		{"unknown escalation step", "compliance:\n  - id: a\n    checks: {firewall: required}\n    escalation: {wipe: 1h}\n", `test.yaml:4:18: unknown key "wipe" in escalation`},
		{"bad glob", "compliance:\n  - id: a\n    checks: {forbidden_apps: [\"[x\"]}\n", `test.yaml:3:31: forbidden_apps: bad pattern`},
		{"compliance not a list", "compliance: {id: a}\n", `test.yaml:1:13: compliance must be a list`},
		{"byod apps", "privacy:\n  profiles:\n    byod: [security, apps]\n", `test.yaml:3:22: the byod profile may not include the application inventory`},
		{"byod system signal", "privacy:\n  profiles:\n    byod: [kernel.version]\n", `test.yaml:3:12: the byod profile may include only security-relevant signals`},
		{"unknown signal", "privacy:\n  profiles:\n    corporate: [disk.encryptd]\n", `test.yaml:3:17: unknown signal or group "disk.encryptd"`},
		{"location in profile", "privacy:\n  profiles:\n    corporate: [location]\n", `test.yaml:3:17: location is not part of a data profile`},
		{"location without purpose", "privacy:\n  location:\n    enabled: true\n", `test.yaml:3:5: location is enabled but has no purpose`},
		{"location for byod", "privacy:\n  location:\n    ownership: [byod]\n", `test.yaml:3:17: location may never be collected from byod devices`},
		{"bad hours", "privacy:\n  location:\n    working_hours: {days: [mon-fry], from: \"8h\", to: \"19:00\"}\n", `test.yaml:3:28: unknown weekday "fry"`},
		{"bad clock", "privacy:\n  location:\n    working_hours: {from: \"8h\", to: \"19:00\"}\n", `test.yaml:3:27: time "8h" must be HH:MM`},
		{"negative clock", "privacy:\n  location:\n    working_hours: {from: \"-1:00\", to: \"19:00\"}\n", `test.yaml:3:27: time "-1:00" must be HH:MM`},
		{"signed clock", "privacy:\n  location:\n    working_hours: {from: \"+8:00\", to: \"19:00\"}\n", `test.yaml:3:27: time "+8:00" must be HH:MM`},
		{"made-up weekday", "privacy:\n  location:\n    working_hours: {days: [monxday]}\n", `test.yaml:3:28: unknown weekday "monxday"`},
		{"unknown retention", "privacy:\n  retention: {logs: 1h}\n", `test.yaml:2:15: unknown key "logs" in privacy retention`},
		{"unknown privacy key", "privacy:\n  geo: true\n", `test.yaml:2:3: unknown key "geo" in privacy`},
		{"short secret", "posture_sources:\n  - name: edr\n    secret: short\n", `test.yaml:3:5: posture source "edr": the secret must be at least 32 characters`},
		{"secret and file", "posture_sources:\n  - name: edr\n    secret: \"0123456789abcdef0123456789abcdef\"\n    secret_file: x\n", `test.yaml:4:5: give secret or secret_file, not both`},
		{"no secret", "posture_sources:\n  - name: edr\n", `test.yaml:2:5: posture source "edr" needs a secret or secret_file`},
		{"missing secret file", "posture_sources:\n  - name: edr\n    secret_file: /nonexistent/secret\n", `test.yaml:3:18: cannot read secret_file`},
		{"source location", "posture_sources:\n  - name: edr\n    secret: \"0123456789abcdef0123456789abcdef\"\n    signals: [location.coordinates]\n", `test.yaml:4:15: external sources may not feed location`},
		{"apps on byod policy", "compliance:\n  - id: a\n    ownership: [byod]\n    checks: {forbidden_apps: [x]}\n", `test.yaml:3:16: compliance policy "a" checks installed applications on byod devices`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErr(t, tc.doc)
			if !strings.Contains(got, tc.want) {
				t.Errorf("error =\n%s\nwant it to contain\n%s", got, tc.want)
			}
		})
	}
}

func TestParseSecretFileRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "edr.secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "posture_sources:\n  - name: edr\n    secret_file: edr.secret\n"
	path := filepath.Join(dir, "portier.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cfg.Sources["edr"].secret); got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("secret = %q", got)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	got := parseErr(t, "compliance:\n  - id: a\n    checks: {firewall: maybe, antivirus: nope}\n")
	if n := strings.Count(got, "\n") + 1; n != 2 {
		t.Errorf("got %d errors, want 2:\n%s", n, got)
	}
}

package posture

import (
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// evalOne evaluates a single-check policy on a device with the given signals.
func evalOne(t *testing.T, checks string, d *store.Device, sigs []collect.Signal, ext map[string][]collect.Signal) CheckResult {
	t.Helper()
	c := parseCfg(t, "compliance:\n  - id: p\n    checks: {"+checks+"}\n")
	if d.Ownership == "" {
		d.Ownership = store.OwnershipCorporate
	}
	if d.State == "" {
		d.State = store.DeviceActive
	}
	if d.LastSeen.IsZero() {
		d.LastSeen = t0
	}
	ev := c.Evaluate(d, sigs, ext, t0)
	if len(ev.Checks) != 1 {
		t.Fatalf("%s: %d results, want 1: %+v", checks, len(ev.Checks), ev.Checks)
	}
	return ev.Checks[0]
}

func TestEachCheck(t *testing.T) {
	linux := func() *store.Device { return &store.Device{ID: "d", Platform: "linux"} }
	mac := func() *store.Device { return &store.Device{ID: "d", Platform: "macos"} }
	win := func() *store.Device { return &store.Device{ID: "d", Platform: "windows"} }
	apps := func(names ...string) collect.Signal {
		var l []collect.App
		for _, n := range names {
			l = append(l, collect.App{Name: n, Version: "1"})
		}
		return sig(collect.AppsInstalled, l)
	}
	tests := []struct {
		name, checks string
		dev          *store.Device
		sigs         []collect.Signal
		want         Status
		msg          string
	}{
		{"disk pass", "disk_encryption: required", linux(), []collect.Signal{sig(collect.DiskEncrypted, true), sig(collect.DiskEncryptionMethod, "luks2")}, Pass, "encrypted (luks2)"},
		{"disk fail", "disk_encryption: required", linux(), []collect.Signal{sig(collect.DiskEncrypted, false)}, Fail, "not encrypted"},
		{"disk unknown error", "disk_encryption: required", linux(), []collect.Signal{sigErr(collect.DiskEncrypted, "lsblk: not available")}, Unknown, "could not be read: lsblk: not available (an unknown state counts as failing)"},
		{"disk unknown missing", "disk_encryption: required", linux(), nil, Unknown, "was not reported"},
		{"os pass by os id", `min_os_version: {ubuntu: "22.04"}`, linux(), []collect.Signal{sig(collect.OSID, "ubuntu"), sig(collect.OSVersion, "24.04")}, Pass, "ubuntu 24.04 meets the minimum 22.04"},
		{"os fail", `min_os_version: {macos: "14.5"}`, mac(), []collect.Signal{sig(collect.OSID, "macos"), sig(collect.OSVersion, "14.4.1")}, Fail, "older than the minimum 14.5"},
		{"os windows build", `min_os_version: {windows: "10.0.22631"}`, win(), []collect.Signal{sig(collect.OSID, "windows"), sig(collect.OSVersion, "10.0.19045")}, Fail, "10.0.19045 is older"},
		{"os unparsable", `min_os_version: {debian: "12"}`, linux(), []collect.Signal{sig(collect.OSID, "debian"), sig(collect.OSVersion, "trixie/sid")}, Unknown, "cannot be compared"},
		{"os not listed", `min_os_version: {ubuntu: "22.04"}`, linux(), []collect.Signal{sig(collect.OSID, "arch"), sig(collect.OSVersion, "rolling")}, Pass, "no minimum version is set for arch"},
		{"os unknown", `min_os_version: {ubuntu: "22.04"}`, linux(), nil, Unknown, "not reported"},
		{"updates pass", "max_pending_security_updates: 2", linux(), []collect.Signal{sig(collect.UpdatesSecurityPending, int64(1))}, Pass, "pending security updates is 1"},
		{"updates fail", "max_pending_security_updates: 0", linux(), []collect.Signal{sig(collect.UpdatesSecurityPending, int64(4))}, Fail, "is 4, more than the allowed 0"},
		{"update age pass when nothing pending", "max_security_update_age_days: 7", linux(), []collect.Signal{sig(collect.UpdatesSecurityPending, int64(0)), sigErr(collect.UpdatesSecurityOldestDays, "not available")}, Pass, "no security update is pending"},
		{"update age fail", "max_security_update_age_days: 7", win(), []collect.Signal{sig(collect.UpdatesSecurityPending, int64(2)), sig(collect.UpdatesSecurityOldestDays, int64(30))}, Fail, "age in days is 30"},
		{"update age unknown", "max_security_update_age_days: 7", linux(), []collect.Signal{sig(collect.UpdatesSecurityPending, int64(2)), sigErr(collect.UpdatesSecurityOldestDays, "apt does not tell")}, Unknown, "apt does not tell"},
		{"screen lock pass", "screen_lock_max_minutes: 10", linux(), []collect.Signal{sig(collect.ScreenlockEnabled, true), sig(collect.ScreenlockDelaySeconds, int64(300))}, Pass, "after 5 min"},
		{"screen lock too late", "screen_lock_max_minutes: 5", mac(), []collect.Signal{sig(collect.ScreenlockEnabled, true), sig(collect.ScreenlockDelaySeconds, int64(1200))}, Fail, "later than the allowed 5 minutes"},
		{"screen lock off", "screen_lock_max_minutes: 5", linux(), []collect.Signal{sig(collect.ScreenlockEnabled, false)}, Fail, "does not lock"},
		{"screen lock unknown", "screen_lock_max_minutes: 5", linux(), []collect.Signal{sigErr(collect.ScreenlockEnabled, "no graphical session")}, Unknown, "no graphical session"},
		{"firewall pass", "firewall: required", linux(), []collect.Signal{sig(collect.FirewallEnabled, true)}, Pass, "on"},
		{"firewall fail", "firewall: required", win(), []collect.Signal{sig(collect.FirewallEnabled, false)}, Fail, "off"},
		{"firewall unknown", "firewall: required", linux(), []collect.Signal{sigErr(collect.FirewallEnabled, "not available")}, Unknown, "not available"},
		{"antivirus pass", "antivirus: required", win(), []collect.Signal{sig(collect.AntivirusRunning, true)}, Pass, "running"},
		{"antivirus fail", "antivirus: required", win(), []collect.Signal{sig(collect.AntivirusRunning, false)}, Fail, "no antivirus"},
		{"antivirus unknown on linux", "antivirus: required", linux(), nil, Unknown, "not reported"},
		{"root pass", "no_root: true", linux(), []collect.Signal{sig(SignalRooted, false)}, Pass, "not rooted"},
		{"root fail", "no_root: true", linux(), []collect.Signal{sig(SignalRooted, true)}, Fail, "is rooted"},
		{"root macos sip", "no_root: true", mac(), []collect.Signal{sig(collect.SIPEnabled, false)}, Fail, "System Integrity Protection is off"},
		{"root unknown", "no_root: true", win(), nil, Unknown, "not reported"},
		{"agent pass", `min_agent_version: "1.2.0"`, linux(), []collect.Signal{sig(collect.AgentVersion, "1.10.0")}, Pass, "1.10.0 meets"},
		{"agent fail prerelease", `min_agent_version: "1.2.0"`, linux(), []collect.Signal{sig(collect.AgentVersion, "1.2.0-rc1")}, Fail, "older than the minimum"},
		{"agent dev build", `min_agent_version: "1.2.0"`, linux(), []collect.Signal{sig(collect.AgentVersion, "dev")}, Unknown, "cannot be compared"},
		{"forbidden pass", "forbidden_apps: [bittorrent*]", linux(), []collect.Signal{apps("firefox")}, Pass, "no forbidden"},
		{"forbidden fail", "forbidden_apps: [bittorrent*, teamviewer]", win(), []collect.Signal{apps("firefox", "BitTorrent Web", "TeamViewer")}, Fail, "bittorrent web, teamviewer"},
		{"forbidden unknown", "forbidden_apps: [x]", linux(), []collect.Signal{sigErr(collect.AppsInstalled, "dpkg-query: not available")}, Unknown, "dpkg-query"},
		{"required pass", "required_apps: [crowdstrike*]", linux(), []collect.Signal{apps("crowdstrike-falcon-sensor")}, Pass, "every required"},
		{"required fail", "required_apps: [crowdstrike*, zscaler]", linux(), []collect.Signal{apps("crowdstrike-falcon-sensor")}, Fail, "missing: zscaler"},
		{"checkin pass", "max_checkin_age: 24h", &store.Device{ID: "d", LastSeen: t0.Add(-time.Hour)}, nil, Pass, "1h0m0s ago"},
		{"checkin fail", "max_checkin_age: 24h", &store.Device{ID: "d", LastSeen: t0.Add(-30 * time.Hour)}, nil, Fail, "more than the allowed 24h0m0s"},
		{"secure boot pass", "secure_boot: required", linux(), []collect.Signal{sig(collect.SecurebootEnabled, true)}, Pass, "on"},
		{"secure boot fail", "secure_boot: required", win(), []collect.Signal{sig(collect.SecurebootEnabled, false)}, Fail, "off"},
		{"secure boot unknown", "secure_boot: required", mac(), nil, Unknown, "not reported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := evalOne(t, tc.checks, tc.dev, tc.sigs, nil)
			if r.Status != tc.want || !strings.Contains(r.Message, tc.msg) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Message, tc.want, tc.msg)
			}
			if (r.Status == Pass) != (r.Remediation == "") {
				t.Errorf("remediation %q with status %s", r.Remediation, r.Status)
			}
			if len(r.Policies) != 1 || r.Policies[0] != "p" {
				t.Errorf("policies = %v", r.Policies)
			}
		})
	}
}

func TestCheckNamesAreStable(t *testing.T) {
	want := "disk_encrypted,os_up_to_date,security_updates,screen_lock,firewall_on,antivirus_running,not_rooted,agent_current,no_forbidden_apps,required_apps_present,recent_checkin,secure_boot,policy_assigned"
	if got := strings.Join(CheckNames(), ","); got != want {
		t.Errorf("CheckNames = %s", got)
	}
}

func TestExternalSourceFailureWins(t *testing.T) {
	d := &store.Device{ID: "d", Platform: "windows"}
	ext := map[string][]collect.Signal{"edr": {{Name: collect.AntivirusRunning, Value: false, CollectedAt: t0}}}
	r := evalOne(t, "antivirus: required", d, []collect.Signal{sig(collect.AntivirusRunning, true)}, ext)
	if r.Status != Fail || r.Source != "external:edr" {
		t.Errorf("got %+v, want a failure from external:edr", r)
	}
	// An external source can fill a signal the agent does not report.
	r = evalOne(t, "no_root: true", &store.Device{ID: "d", Platform: "android"}, nil, map[string][]collect.Signal{"mdm": {{Name: SignalRooted, Value: false}}})
	if r.Status != Pass || r.Source != "external:mdm" {
		t.Errorf("got %+v", r)
	}
}

func TestStrictestPolicyWins(t *testing.T) {
	c := parseCfg(t, `
compliance:
  - id: all
    checks: {screen_lock_max_minutes: 15, min_os_version: {ubuntu: "22.04"}, forbidden_apps: [a]}
  - id: eng
    groups: [engineering]
    checks: {screen_lock_max_minutes: 5, min_os_version: {ubuntu: "24.04"}, forbidden_apps: [b]}
`)
	d := &store.Device{ID: "d", Platform: "linux", Ownership: store.OwnershipCorporate, State: store.DeviceActive, Groups: []string{"engineering"}, LastSeen: t0}
	ev := c.Evaluate(d, []collect.Signal{sig(collect.ScreenlockEnabled, true), sig(collect.ScreenlockDelaySeconds, int64(600)), sig(collect.OSID, "ubuntu"), sig(collect.OSVersion, "22.04"),
		sig(collect.AppsInstalled, []collect.App{{Name: "a"}})}, nil, t0)
	if strings.Join(ev.Policies, ",") != "all,eng" {
		t.Fatalf("policies = %v", ev.Policies)
	}
	if got := strings.Join(ev.Failing, ","); got != "os_up_to_date,screen_lock,no_forbidden_apps" {
		t.Errorf("failing = %s (%+v)", got, ev.Checks)
	}
	for _, r := range ev.Checks {
		if r.Name == CheckScreenLock && strings.Join(r.Policies, ",") != "all,eng" {
			t.Errorf("screen_lock policies = %v", r.Policies)
		}
	}
	d.Groups = nil
	ev = c.Evaluate(d, []collect.Signal{sig(collect.ScreenlockEnabled, true), sig(collect.ScreenlockDelaySeconds, int64(600)), sig(collect.OSID, "ubuntu"), sig(collect.OSVersion, "22.04"),
		sig(collect.AppsInstalled, []collect.App{{Name: "b"}})}, nil, t0)
	if !ev.Compliant {
		t.Errorf("without the eng group the device should pass: %+v", ev.Checks)
	}
}

func TestPrivacyMakesAppChecksNotApplicable(t *testing.T) {
	c := parseCfg(t, "compliance:\n  - id: p\n    checks: {forbidden_apps: [x], firewall: required}\n")
	d := &store.Device{ID: "d", Platform: "linux", Ownership: store.OwnershipBYOD, State: store.DeviceActive, WorkProfile: true, LastSeen: t0}
	// Even if an app inventory reached evaluation, the BYOD profile forbids it.
	ev := c.Evaluate(d, []collect.Signal{sig(collect.FirewallEnabled, true), sig(collect.AppsInstalled, []collect.App{{Name: "x"}})}, nil, t0)
	if !ev.Compliant || len(ev.Checks) != 1 || ev.Checks[0].Name != CheckFirewall {
		t.Errorf("byod evaluation = %+v", ev.Checks)
	}
}

func TestNoPolicyAssigned(t *testing.T) {
	c := parseCfg(t, "compliance:\n  - id: p\n    platforms: [macos]\n    checks: {firewall: required}\n")
	d := &store.Device{ID: "d", Platform: "linux", Ownership: store.OwnershipCorporate, State: store.DeviceActive, LastSeen: t0}
	ev := c.Evaluate(d, nil, nil, t0)
	if ev.Compliant || strings.Join(ev.Failing, ",") != CheckPolicyAssigned || ev.Trust != store.TrustLow || ev.Step != "" {
		t.Errorf("evaluation = %+v", ev)
	}
}

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"14", "14.0", 0}, {"14.6.1", "14.6", 1}, {"10.0.19045", "10.0.22631", -1}, {"24.04", "22.04", 1},
		{"v1.2.0", "1.2.0", 0}, {"1.2.0-rc1", "1.2.0", -1}, {"1.2.0+build5", "1.2.0", 0}, {"24.04 LTS", "24.04", 0}, {"1.10", "1.9", 1},
	}
	for _, tc := range tests {
		a, err1 := parseVersion(tc.a)
		b, err2 := parseVersion(tc.b)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s/%s: %v %v", tc.a, tc.b, err1, err2)
		}
		if got := a.compare(b); got != tc.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	for _, bad := range []string{"", "dev", "sonoma", "1..2", "1.2a", "(devel)"} {
		if _, err := parseVersion(bad); err == nil {
			t.Errorf("parseVersion(%q) succeeded", bad)
		}
	}
}

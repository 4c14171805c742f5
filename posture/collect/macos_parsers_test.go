package collect

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseSwVers(t *testing.T) {
	tests := []struct {
		file string
		want SwVers
	}{
		{"macos/sw_vers-10.13-high-sierra.txt", SwVers{"Mac OS X", "10.13", "17A405"}},
		{"macos/sw_vers-11.7.2.txt", SwVers{"macOS", "11.7.2", "20G1020"}}, // no final newline
		{"macos/sw_vers-12.7.6-arm64.txt", SwVers{"macOS", "12.7.6", "21H1320"}},
		{"macos/sw_vers-15.7.1-arm64.txt", SwVers{"macOS", "15.7.1", "24G231"}}, // two TABs
	}
	for _, tt := range tests {
		if got, err := ParseSwVers(fixture(t, tt.file)); err != nil || got != tt.want {
			t.Errorf("%s = %+v, %v", tt.file, got, err)
		}
	}
	if _, err := ParseSwVers([]byte("ProductName: macOS\n")); err == nil {
		t.Error("partial: no error")
	}
}

func TestParseCsrutilStatus(t *testing.T) {
	tests := []struct {
		file     string
		status   string
		custom   bool
		disabled int
		enabled  bool
	}{
		{"macos/csrutil-status-enabled.txt", "enabled", false, 0, true},
		{"macos/csrutil-status-disabled.txt", "disabled", false, 0, false},
		{"macos/csrutil-status-custom-enabled-high-sierra.txt", "enabled", true, 2, false},
		{"macos/csrutil-status-custom-unknown-catalina.txt", "unknown", true, 7, false},
		{"macos/csrutil-status-custom-unknown-monterey-arm64.txt", "unknown", true, 6, false},
	}
	for _, tt := range tests {
		st, err := ParseCsrutilStatus(fixture(t, tt.file))
		if err != nil || st.Status != tt.status || st.Custom != tt.custom || len(st.Disabled) != tt.disabled || st.Enabled() != tt.enabled {
			t.Errorf("%s = %+v (enabled %v), %v", tt.file, st, st.Enabled(), err)
		}
	}
	if _, err := ParseCsrutilStatus([]byte("csrutil: command not found\n")); err == nil {
		t.Error("garbage: no error")
	}
}

func TestMacBoolParsers(t *testing.T) {
	tests := []struct {
		file  string
		parse func([]byte) (bool, error)
		want  bool
	}{
		{"macos/spctl-status-enabled.txt", ParseSpctlStatus, true},
		{"macos/spctl-status-disabled.txt", ParseSpctlStatus, false},
		{"macos/socketfilterfw-combined-enabled-state1.txt", ParseSocketfilterfwState, true},
		{"macos/socketfilterfw-combined-enabled-state2-stealth-EDITED.txt", ParseSocketfilterfwState, true},
		{"macos/socketfilterfw-getglobalstate-disabled-SYNTHETIC.txt", ParseSocketfilterfwState, false},
	}
	for _, tt := range tests {
		if got, err := tt.parse(fixture(t, tt.file)); err != nil || got != tt.want {
			t.Errorf("%s = %v, %v", tt.file, got, err)
		}
	}
}

func TestParseFdesetupStatus(t *testing.T) {
	tests := []struct {
		file  string
		on    bool
		state string
	}{
		{"macos/fdesetup-status-off-needs-restart-deferred.txt", false, "off-pending-restart"},
		{"macos/fdesetup-status-on-SYNTHETIC.txt", true, "on"},
		{"macos/fdesetup-status-off-SYNTHETIC.txt", false, "off"},
		{"macos/fdesetup-status-encryption-in-progress-SYNTHETIC.txt", false, "encrypting"},
	}
	for _, tt := range tests {
		if got, err := ParseFdesetupStatus(fixture(t, tt.file)); err != nil || got.On != tt.on || got.State != tt.state {
			t.Errorf("%s = %+v, %v", tt.file, got, err)
		}
	}
	for _, bad := range []string{"FileVault est activé.\n", "FileVault is On, probably\n", ""} {
		if _, err := ParseFdesetupStatus([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseProfilesEnrollment(t *testing.T) {
	m, err := ParseProfilesEnrollment(fixture(t, "macos/profiles-status-enrollment-dep-uamdm.txt"))
	want := MDMEnrollment{DEP: true, Enrolled: true, UserApproved: true, Server: "https://MDMSERVER:8443/mdm/ServerURL"}
	if err != nil || m != want {
		t.Errorf("dep = %+v, %v", m, err)
	}
	m, err = ParseProfilesEnrollment(fixture(t, "macos/profiles-status-enrollment-not-enrolled-SYNTHETIC.txt"))
	if err != nil || m != (MDMEnrollment{}) {
		t.Errorf("not enrolled = %+v, %v", m, err)
	}
	if _, err := ParseProfilesEnrollment([]byte("profiles: error\n")); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("garbage: %v", err)
	}
}

func TestParseSoftwareUpdateList(t *testing.T) {
	tests := []struct {
		file     string
		os       string
		pending  int
		security int
		first    MacUpdate
	}{
		{"macos/softwareupdate-list-no-updates.txt", "13.3", 0, 0, MacUpdate{}},
		{"macos/softwareupdate-list-no-scan-no-updates.txt", "13.3", 0, 0, MacUpdate{}},
		{"macos/softwareupdate-list-one-update-ventura.txt", "13.3", 1, 1,
			MacUpdate{"macOS Ventura 13.3.1-22E261", "macOS Ventura 13.3.1", "13.3.1", true, true}},
		// Command Line Tools and a beta: nothing security-relevant.
		{"macos/softwareupdate-list-no-scan-multiple-updates.txt", "13.3.1", 2, 0,
			MacUpdate{"Command Line Tools for Xcode-14.3", "Command Line Tools for Xcode", "14.3", true, false}},
		// Safari, SF Symbols, macOS 26.7 (same major: counted), macOS 27 (upgrade: not).
		{"macos/softwareupdate-list-multiple-updates-tahoe.txt", "26.6", 4, 1,
			MacUpdate{"Safari27.0TahoeAuto-27.0", "Safari", "27.0", true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ups, err := ParseSoftwareUpdateList(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(ups) != tt.pending {
				t.Fatalf("%d updates, want %d", len(ups), tt.pending)
			}
			if n, ok := MacSecurityUpdates(ups, tt.os); !ok || n != tt.security {
				t.Errorf("security = %d %v, want %d", n, ok, tt.security)
			}
			if tt.pending > 0 && ups[0] != tt.first {
				t.Errorf("first = %+v", ups[0])
			}
		})
	}
	if _, err := ParseSoftwareUpdateList(fixture(t, "macos/softwareupdate-list-error-network.txt")); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("network error: %v", err)
	}
	if _, err := ParseSoftwareUpdateList([]byte("Software Update Tool\n\n")); err == nil {
		t.Error("no verdict: no error")
	}
}

func TestScreensaver(t *testing.T) {
	real, err := ParseDefaultsDict(fixture(t, "macos/defaults-read-com.apple.screensaver-high-sierra.txt"))
	if err != nil || !reflect.DeepEqual(real, map[string]string{"askForPassword": "1", "tokenRemovalAction": "0"}) {
		t.Fatalf("high sierra = %v, %v", real, err)
	}
	// askForPassword on, but the per-host idleTime is not set: unknown.
	if _, _, err := ScreensaverLock(real, 0, false); err == nil {
		t.Error("no idleTime: no error")
	}
	dict, err := ParseDefaultsDict(fixture(t, "macos/defaults-read-com.apple.screensaver-delay-SYNTHETIC.txt"))
	if err != nil || dict["askForPasswordDelay"] != "5" {
		t.Fatalf("delay dict = %v, %v", dict, err)
	}
	idle, err := ParseDefaultsValue(fixture(t, "macos/defaults-currenthost-idletime-600-SYNTHETIC.txt"))
	if err != nil || idle != 600 {
		t.Fatalf("idleTime = %v, %v", idle, err)
	}
	if on, delay, err := ScreensaverLock(dict, idle, true); err != nil || !on || delay != 605 {
		t.Errorf("lock = %v %v %v", on, delay, err)
	}
	if on, _, err := ScreensaverLock(dict, 0, true); err != nil || on {
		t.Errorf("idleTime 0 = %v %v", on, err)
	}
	if on, _, err := ScreensaverLock(map[string]string{"askForPassword": "0"}, 600, true); err != nil || on {
		t.Errorf("askForPassword 0 = %v %v", on, err)
	}
	if _, _, err := ScreensaverLock(map[string]string{}, 600, true); err == nil {
		t.Error("no askForPassword: no error")
	}
}

func TestMacMisc(t *testing.T) {
	boot, err := ParseKernBoottime(fixture(t, "macos/sysctl-kern-boottime-SYNTHETIC.txt"))
	if err != nil || !boot.Equal(time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("boottime = %v, %v", boot, err)
	}
	apps, err := ParseSystemProfilerApps(fixture(t, "macos/system-profiler-spapplications-json-SYNTHETIC.json"))
	want := []App{
		{"Google Chrome", "132.0.6834.160", "Developer ID Application: Google LLC (EQHXZ8M8AV)"},
		{"Safari", "18.3", "Software Signing"},
		{"Übersicht", "1.6.82", "unknown"},
	}
	if err != nil || !reflect.DeepEqual(apps, want) {
		t.Errorf("apps = %v, %v", apps, err)
	}
}

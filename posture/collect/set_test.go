package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// linuxEnv is a Linux device built from fixtures: LUKS2 root, nftables
// dropping input, a GNOME session, Debian packages.
func linuxEnv(t *testing.T, r Runner) Env {
	return Env{
		Runner: r,
		FS: fstest.MapFS{
			"etc/os-release":         {Data: fixture(t, "linux/os-release-debian12-devvm.txt")},
			"proc/uptime":            {Data: []byte("3600.50 7000.00\n")},
			"sys/block/dm-0/dm/uuid": {Data: fixture(t, "linux/sys-block-dm-uuid-luks2-SYNTHETIC.txt")},
		},
		DiskFree:     func(string) (uint64, error) { return 123456789, nil },
		AgentVersion: "1.2.3",
	}
}

func linuxRunner(t *testing.T) *fakeRunner {
	gs := "runuser -u alice -- env DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus gsettings get "
	return scripted(map[string]func() ([]byte, error){
		"uname -r":                 ok(fixture(t, "linux/uname-r-debian12-devvm.txt")),
		"apt list --upgradable":    ok(fixture(t, "linux/apt-list-upgradable-jammy-security.txt")),
		"lsblk -J -p":              ok(fixture(t, "linux/lsblk-Jp-o-luks2-lvm-root-SYNTHETIC.json")),
		"cryptsetup status":        ok(fixture(t, "linux/cryptsetup-status-luks2-active.txt")),
		"firewall-cmd --state":     exit(252, fixture(t, "linux/firewall-cmd-state-not-running-SYNTHETIC.txt"), nil),
		"ufw status":               ok(fixture(t, "linux/ufw-status-inactive.txt")),
		"nft -j list ruleset":      ok(fixture(t, "linux/nft-j-list-ruleset-inet-input-drop-SYNTHETIC.json")),
		"mokutil --sb-state":       ok(fixture(t, "linux/mokutil-sb-state-enabled.txt")),
		"loginctl list-sessions":   ok(fixture(t, "linux/loginctl-list-sessions-no-legend-SYNTHETIC.txt")),
		"loginctl show-session 2 ": ok(fixture(t, "linux/loginctl-show-session-wayland-SYNTHETIC.txt")),
		"loginctl show-session 5 ": ok(fixture(t, "linux/loginctl-show-session-greeter-SYNTHETIC.txt")),
		gs + "org.gnome.desktop.screensaver lock-enabled": ok(fixture(t, "linux/gsettings-get-lock-enabled-true-SYNTHETIC.txt")),
		gs + "org.gnome.desktop.session idle-delay":       ok(fixture(t, "linux/gsettings-get-idle-delay-300-SYNTHETIC.txt")),
		gs + "org.gnome.desktop.screensaver lock-delay":   ok(fixture(t, "linux/gsettings-get-lock-delay-0-SYNTHETIC.txt")),
		"dpkg-query -W": ok(fixture(t, "linux/dpkg-query-status-package-version-debian12-devvm.txt")),
	})
}

func TestLinuxSetFromFixtures(t *testing.T) {
	r := linuxRunner(t)
	sigs := Linux(linuxEnv(t, r)).Run(context.Background(), Allow(AllSignals()...), fixedClock)
	m := byName(t, sigs)
	wantValue(t, m, AgentVersion, "1.2.3")
	wantValue(t, m, OSName, "Debian GNU/Linux")
	wantValue(t, m, OSID, "debian")
	wantValue(t, m, OSVersion, "12")
	wantValue(t, m, KernelVersion, "6.18.44-fc-v657")
	wantValue(t, m, UptimeSeconds, int64(3600))
	wantValue(t, m, DiskFreeBytes, int64(123456789))
	wantValue(t, m, UpdatesPending, int64(15))
	wantValue(t, m, UpdatesSecurityPending, int64(9))
	wantError(t, m, UpdatesSecurityOldestDays, "does not date")
	wantValue(t, m, DiskEncrypted, true)
	wantValue(t, m, DiskEncryptionMethod, "luks2")
	wantValue(t, m, DiskEncryptionCipher, "aes-xts-plain64")
	wantValue(t, m, FirewallEnabled, true)
	wantValue(t, m, FirewallProduct, "nftables")
	wantValue(t, m, ScreenlockEnabled, true)
	wantValue(t, m, ScreenlockDelaySeconds, int64(300))
	wantValue(t, m, SecurebootEnabled, true)
	if apps, ok := m[AppsInstalled].Value.([]App); !ok || len(apps) != 866 {
		t.Errorf("apps.installed = %T with error %q", m[AppsInstalled].Value, m[AppsInstalled].Error)
	}
	for _, s := range sigs {
		if !s.CollectedAt.Equal(fixedClock()) || s.Source == "" {
			t.Errorf("%s: collected %v source %q", s.Name, s.CollectedAt, s.Source)
		}
	}
	if got := m[DiskEncryptionMethod].Source; got != "cryptsetup status /dev/mapper/dm_crypt-0" {
		t.Errorf("method source = %q", got)
	}
	if got, want := len(sigs), len(Linux(Env{}).Signals()); got != want {
		t.Errorf("%d signals, want %d", got, want)
	}
}

func TestLinuxSetStates(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string]func() ([]byte, error)
		want    map[string]any    // signal → value
		errs    map[string]string // signal → error substring
	}{
		{
			name: "ufw inactive, others missing",
			answers: map[string]func() ([]byte, error){
				"ufw status": ok(fixture(t, "linux/ufw-status-inactive.txt")),
			},
			want: map[string]any{FirewallEnabled: false, FirewallProduct: "ufw"},
		},
		{
			name: "ufw needs root, nft minimal ruleset",
			answers: map[string]func() ([]byte, error){
				"ufw status":          exit(1, nil, []byte("ERROR: You need to be root to run this script\n")),
				"nft -j list ruleset": ok(fixture(t, "linux/nft-jat-list-ruleset-minimal.json")),
			},
			want: map[string]any{FirewallEnabled: false, FirewallProduct: "nftables"},
		},
		{
			name: "firewalld running",
			answers: map[string]func() ([]byte, error){
				"firewall-cmd --state": ok(fixture(t, "linux/firewall-cmd-state-running.txt")),
				"ufw status":           ok(fixture(t, "linux/ufw-status-inactive.txt")),
			},
			want: map[string]any{FirewallEnabled: true, FirewallProduct: "firewalld"},
		},
		{
			name: "every firewall tool fails",
			answers: map[string]func() ([]byte, error){
				"ufw status":          exit(1, nil, []byte("ERROR: You need to be root to run this script\n")),
				"nft -j list ruleset": exit(1, nil, []byte("Operation not permitted\n")),
			},
			errs: map[string]string{FirewallEnabled: "root", FirewallProduct: "Operation not permitted"},
		},
		{
			name: "no firewall tool at all",
			errs: map[string]string{FirewallEnabled: "not available"},
		},
		{
			name: "dnf5 with dates, no apt",
			answers: map[string]func() ([]byte, error){
				"dnf -q updateinfo list --security": ok(fixture(t, "linux/dnf5-advisory-list-security-SYNTHETIC.txt")),
			},
			want: map[string]any{UpdatesSecurityPending: int64(4), UpdatesSecurityOldestDays: int64(24)},
			errs: map[string]string{UpdatesPending: "security advisories only"},
		},
		{
			name: "zypper",
			answers: map[string]func() ([]byte, error){
				"zypper": ok(fixture(t, "linux/zypper-list-patches-two-tables-SYNTHETIC.txt")),
			},
			want: map[string]any{UpdatesSecurityPending: int64(2), UpdatesPending: int64(3)},
		},
		{
			name: "apt localized output",
			answers: map[string]func() ([]byte, error){
				"apt list": ok([]byte("Auflistung… Fertig\nfoo/bar 1 amd64 [aktualisierbar von: 0]\n")),
			},
			errs: map[string]string{UpdatesSecurityPending: "unrecognized", UpdatesPending: "unrecognized"},
		},
		{
			name: "root not encrypted",
			answers: map[string]func() ([]byte, error){
				"lsblk": ok(fixture(t, "linux/lsblk-fJp-luks.json")),
			},
			want: map[string]any{DiskEncrypted: false, DiskEncryptionMethod: "none"},
			errs: map[string]string{DiskEncryptionCipher: "not encrypted"},
		},
		{
			name: "plain dm-crypt root, cryptsetup needs root",
			answers: map[string]func() ([]byte, error){
				"lsblk":      ok(fixture(t, "linux/lsblk-Jp-o-plain-dmcrypt-root-SYNTHETIC.json")),
				"cryptsetup": exit(1, nil, []byte("Cannot initialize device-mapper. Is dm_mod kernel module loaded?\n")),
			},
			want: map[string]any{DiskEncrypted: true, DiskEncryptionMethod: "luks2"}, // sysfs dm uuid says LUKS2
			errs: map[string]string{DiskEncryptionCipher: "device-mapper"},
		},
		{
			name: "root not in lsblk (container)",
			answers: map[string]func() ([]byte, error){
				"lsblk": ok([]byte(`{"blockdevices":[{"name":"/dev/sda","type":"disk","fstype":null,"mountpoint":null}]}`)),
			},
			errs: map[string]string{DiskEncrypted: "no block device is mounted at /"},
		},
		{
			name: "mokutil without EFI (message on stderr)",
			answers: map[string]func() ([]byte, error){
				"mokutil": exit(255, nil, fixture(t, "linux/mokutil-sb-state-efi-not-supported.txt")),
			},
			want: map[string]any{SecurebootEnabled: false},
		},
		{
			name: "no desktop session",
			answers: map[string]func() ([]byte, error){
				"loginctl list-sessions": ok(nil),
			},
			errs: map[string]string{ScreenlockEnabled: "no local graphical session", ScreenlockDelaySeconds: "no local graphical session"},
		},
		{
			name: "rpm inventory",
			answers: map[string]func() ([]byte, error){
				"rpm -qa": ok(fixture(t, "linux/rpm-qa-qf-name-version-vendor-SYNTHETIC.txt")),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := linuxEnv(t, scripted(tt.answers))
			m := byName(t, Linux(env).Run(context.Background(), Allow(AllSignals()...), fixedClock))
			for name, v := range tt.want {
				wantValue(t, m, name, v)
			}
			for name, e := range tt.errs {
				wantError(t, m, name, e)
			}
		})
	}
}

func TestPrivacyProfileSkipsCollectors(t *testing.T) {
	r := linuxRunner(t)
	// A BYOD-like profile: OS facts and security state, no inventory.
	allowed := Allow(OSName, OSVersion, DiskEncrypted, FirewallEnabled)
	sigs := Linux(linuxEnv(t, r)).Run(context.Background(), allowed, fixedClock)
	for _, s := range sigs {
		if !allowed.Has(s.Name) {
			t.Errorf("forbidden signal %s reported", s.Name)
		}
	}
	if len(sigs) != 4 {
		t.Errorf("%d signals, want 4: %v", len(sigs), sigs)
	}
	for _, cmd := range []string{"dpkg-query", "rpm", "apt", "loginctl", "runuser", "mokutil", "uname", "cryptsetup"} {
		if r.called(cmd) {
			t.Errorf("%s ran although no signal it produces is allowed", cmd)
		}
	}
	// Nothing allowed: nothing runs, nothing is reported.
	r = linuxRunner(t)
	if sigs := Linux(linuxEnv(t, r)).Run(context.Background(), nil, fixedClock); len(sigs) != 0 || len(r.calls) != 0 {
		t.Errorf("nil profile: %d signals, calls %v", len(sigs), r.calls)
	}
}

func TestSetDropsUndeclaredAndRecoversPanics(t *testing.T) {
	rogue := newCollector(func(_ context.Context, in Input) []Signal {
		return []Signal{in.value(OSName, "x", "ok"), in.value(AppsInstalled, "x", []App{{Name: "sneaky"}})}
	}, OSName)
	broken := newCollector(func(context.Context, Input) []Signal { panic("boom") }, KernelVersion)
	set := NewSet("test", Env{}, rogue, broken)
	m := byName(t, set.Run(context.Background(), Allow(AllSignals()...), fixedClock))
	if _, ok := m[AppsInstalled]; ok {
		t.Error("undeclared signal passed through")
	}
	wantValue(t, m, OSName, "ok")
	wantError(t, m, KernelVersion, "boom")
}

func TestMacOSSetFromFixtures(t *testing.T) {
	r := scripted(map[string]func() ([]byte, error){
		"sw_vers -productVersion":                      ok([]byte("13.3\n")),
		"sw_vers":                                      ok(fixture(t, "macos/sw_vers-15.7.1-arm64.txt")),
		"uname -r":                                     ok([]byte("24.6.0\n")),
		"sysctl -n kern.boottime":                      ok(fixture(t, "macos/sysctl-kern-boottime-SYNTHETIC.txt")),
		"softwareupdate --list":                        ok(fixture(t, "macos/softwareupdate-list-one-update-ventura.txt")),
		"fdesetup status":                              ok(fixture(t, "macos/fdesetup-status-off-needs-restart-deferred.txt")),
		socketfilterfw + " --getglobalstate":           ok(fixture(t, "macos/socketfilterfw-combined-enabled-state1.txt")),
		"defaults read com.apple.screensaver":          ok(fixture(t, "macos/defaults-read-com.apple.screensaver-delay-SYNTHETIC.txt")),
		"defaults -currentHost read":                   ok(fixture(t, "macos/defaults-currenthost-idletime-600-SYNTHETIC.txt")),
		"csrutil status":                               ok(fixture(t, "macos/csrutil-status-custom-enabled-high-sierra.txt")),
		"spctl --status":                               exit(1, fixture(t, "macos/spctl-status-disabled.txt"), nil),
		"profiles status -type enrollment":             ok(fixture(t, "macos/profiles-status-enrollment-dep-uamdm.txt")),
		"system_profiler SPApplicationsDataType -json": ok(fixture(t, "macos/system-profiler-spapplications-json-SYNTHETIC.json")),
	})
	env := Env{Runner: r, DiskFree: func(string) (uint64, error) { return 42, nil }, AgentVersion: "1.2.3"}
	m := byName(t, MacOS(env).Run(context.Background(), Allow(AllSignals()...), fixedClock))
	wantValue(t, m, OSName, "macOS")
	wantValue(t, m, OSID, "macos")
	wantValue(t, m, OSVersion, "15.7.1")
	wantValue(t, m, OSBuild, "24G231")
	wantValue(t, m, KernelVersion, "24.6.0")
	wantValue(t, m, UptimeSeconds, int64(fixedClock().Sub(time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)).Seconds()))
	wantValue(t, m, DiskFreeBytes, int64(42))
	wantValue(t, m, UpdatesPending, int64(1))
	wantValue(t, m, UpdatesSecurityPending, int64(1))
	wantValue(t, m, DiskEncrypted, false)
	wantValue(t, m, DiskEncryptionMethod, "filevault")
	wantValue(t, m, FirewallEnabled, true)
	wantValue(t, m, FirewallProduct, "macOS Application Firewall")
	wantValue(t, m, ScreenlockEnabled, true)
	wantValue(t, m, ScreenlockDelaySeconds, int64(605))
	wantValue(t, m, SIPEnabled, false)
	wantValue(t, m, GatekeeperEnabled, false)
	wantValue(t, m, MDMEnrolled, true)
	if apps, _ := m[AppsInstalled].Value.([]App); len(apps) != 3 {
		t.Errorf("apps = %v", m[AppsInstalled])
	}
	if got, want := len(m), len(MacOS(Env{}).Signals()); got != want {
		t.Errorf("%d signals, want %d", got, want)
	}
}

// windowsRunner answers PowerShell scripts by a keyword of the script.
func windowsRunner(t *testing.T, ps map[string][]byte, other map[string]func() ([]byte, error)) *fakeRunner {
	fallback := scripted(other)
	return &fakeRunner{run: func(cmdline string) ([]byte, error) {
		if strings.HasPrefix(cmdline, "powershell.exe ") {
			for k, out := range ps {
				if strings.Contains(cmdline, k) {
					return out, nil
				}
			}
			return nil, &CommandError{Command: "powershell", ExitCode: 1, Err: fmt.Errorf("exit status 1"), Stderr: []byte("The term is not recognized")}
		}
		return fallback.run(cmdline)
	}}
}

func TestWindowsSetFromFixtures(t *testing.T) {
	r := windowsRunner(t, map[string][]byte{
		"Win32_OperatingSystem":  fixture(t, "windows/win32-operatingsystem-json-win11-24h2-SYNTHETIC.json"),
		"Microsoft.Update":       fixture(t, "windows/windows-update-search-json-SYNTHETIC.json"),
		"Get-BitLockerVolume":    fixture(t, "windows/get-bitlockervolume-format-list-fully-encrypted-comma-decimal.txt"),
		"Get-MpComputerStatus":   fixture(t, "windows/get-ciminstance-msft-mpcomputerstatus-not-running-3rd-party-av-ru-partial.txt"),
		"SecurityCenter2":        fixture(t, "windows/securitycenter2-antivirusproduct-json-kaspersky-on-SYNTHETIC.json"),
		"Get-NetFirewallProfile": fixture(t, "windows/get-netfirewallprofile-format-list-all-on-SYNTHETIC.txt"),
		"Confirm-SecureBootUEFI": fixture(t, "windows/confirm-securebootuefi-true.txt"),
		"Uninstall":              fixture(t, "windows/uninstall-keys-json-SYNTHETIC.json"),
	}, nil)
	env := Env{Runner: r, DiskFree: func(string) (uint64, error) { return 7, nil }, AgentVersion: "1.2.3"}
	m := byName(t, Windows(env).Run(context.Background(), Allow(AllSignals()...), fixedClock))
	wantValue(t, m, OSName, "Microsoft Windows 11 Pro")
	wantValue(t, m, OSID, "windows")
	wantValue(t, m, OSVersion, "10.0.26100")
	wantValue(t, m, OSBuild, "26100")
	wantValue(t, m, UptimeSeconds, int64(9*24*3600+4*3600))
	wantValue(t, m, DiskFreeBytes, int64(7))
	wantValue(t, m, UpdatesPending, int64(3))
	wantValue(t, m, UpdatesSecurityPending, int64(2))
	wantValue(t, m, UpdatesSecurityOldestDays, int64(55))
	wantValue(t, m, DiskEncrypted, true)
	wantValue(t, m, DiskEncryptionMethod, "bitlocker")
	wantValue(t, m, DiskEncryptionCipher, "xts-aes-128")
	wantValue(t, m, AntivirusRunning, true)
	wantValue(t, m, AntivirusProduct, "Kaspersky Endpoint Security for Windows")
	wantError(t, m, AntivirusSignaturesAgeDays, "Security Center")
	wantValue(t, m, FirewallEnabled, true)
	wantValue(t, m, FirewallProduct, "Windows Firewall")
	wantValue(t, m, SecurebootEnabled, true)
	if apps, _ := m[AppsInstalled].Value.([]App); len(apps) != 4 {
		t.Errorf("apps = %v", m[AppsInstalled])
	}
}

func TestWindowsSetFallbacks(t *testing.T) {
	// No PowerShell module answers: systeminfo, manage-bde and netsh.
	r := windowsRunner(t, map[string][]byte{
		"Get-MpComputerStatus": fixture(t, "windows/get-mpcomputerstatus-win11-22h2-normal-dd-mm-yyyy.txt"),
	}, map[string]func() ([]byte, error){
		"systeminfo":             ok(fixture(t, "windows/systeminfo-win10-1809-ltsc-zh-cn-gbk.txt")),
		"manage-bde -status C:":  ok(fixture(t, "windows/manage-bde-status-used-space-only-protection-off-comma-decimal-partial.txt")),
		"netsh advfirewall show": ok(fixture(t, "windows/netsh-advfirewall-show-allprofiles-state-public-off-SYNTHETIC.txt")),
	})
	m := byName(t, Windows(Env{Runner: r}).Run(context.Background(), Allow(AllSignals()...), fixedClock))
	wantValue(t, m, OSVersion, "10.0.17763")
	wantValue(t, m, OSBuild, "17763")
	wantError(t, m, OSName, "legacy code page")
	wantError(t, m, UptimeSeconds, "boot time not reported")
	wantValue(t, m, DiskEncrypted, false)
	wantValue(t, m, DiskEncryptionMethod, "bitlocker")
	wantValue(t, m, FirewallEnabled, false)
	wantValue(t, m, AntivirusRunning, true)
	wantValue(t, m, AntivirusProduct, "Microsoft Defender Antivirus")
	wantValue(t, m, AntivirusSignaturesAgeDays, int64(0))
	wantError(t, m, DiskFreeBytes, "not available")
	wantError(t, m, AgentVersion, "empty")
}

func TestSignalJSONRoundTrip(t *testing.T) {
	in := []Signal{
		{Name: UptimeSeconds, Value: int64(1 << 40), Source: "/proc/uptime", CollectedAt: fixedClock()},
		{Name: DiskEncrypted, Value: true, Source: "lsblk", CollectedAt: fixedClock()},
		{Name: OSName, Value: "Übuntu", Source: "/etc/os-release", CollectedAt: fixedClock()},
		{Name: AppsInstalled, Value: []App{{Name: "a", Version: "1"}}, Source: "dpkg-query", CollectedAt: fixedClock()},
		{Name: FirewallEnabled, Source: "ufw status", CollectedAt: fixedClock(), Error: "not available"},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []Signal
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n%#v\n%#v", in, out)
	}
	var s Signal
	if err := json.Unmarshal([]byte(`{"name":"uptime.seconds","value":"x"}`), &s); err == nil {
		t.Error("wrong kind: no error")
	}
	if err := json.Unmarshal([]byte(`{"name":"nope","value":1}`), &s); err == nil {
		t.Error("unknown name: no error")
	}
}

func TestSpecsCoverEverySetSignal(t *testing.T) {
	for _, set := range []*Set{Linux(Env{}), MacOS(Env{}), Windows(Env{})} {
		for _, n := range set.Signals() {
			spec, ok := Spec(n)
			if !ok {
				t.Errorf("%s: %s has no spec", set.Platform(), n)
				continue
			}
			if !strings.Contains(spec.Platforms, set.Platform()) {
				t.Errorf("%s: spec of %s does not list the platform", set.Platform(), n)
			}
		}
	}
}

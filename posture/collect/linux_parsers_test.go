package collect

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		file              string
		name, id, version string
		wantVersionErr    bool
	}{
		{"linux/os-release-debian12-devvm.txt", "Debian GNU/Linux", "debian", "12", false},
		{"linux/os-release-arch-rolling-SYNTHETIC.txt", "Arch Linux", "arch", "rolling", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			vars, err := ParseOSRelease(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			name, id, version, err := osReleaseValues(vars)
			if (err != nil) != tt.wantVersionErr || name != tt.name || id != tt.id || version != tt.version {
				t.Errorf("got %q %q %q %v", name, id, version, err)
			}
		})
	}
	vars, err := ParseOSRelease([]byte("# c\nNAME=\"A \\\"quoted\\\" \\$name\"\nID='single'\nBAD LINE\nVERSION_ID=1\n"))
	if err != nil || vars["NAME"] != `A "quoted" $name` || vars["ID"] != "single" || vars["VERSION_ID"] != "1" {
		t.Errorf("quoting: %v %v", vars, err)
	}
	if _, err := ParseOSRelease([]byte("garbage\n")); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("garbage: %v", err)
	}
}

func TestParseProcUptimeAndUname(t *testing.T) {
	if n, err := ParseProcUptime([]byte("12345.67 23456.78\n")); err != nil || n != 12345 {
		t.Errorf("uptime = %d, %v", n, err)
	}
	if n, err := ParseProcUptime(fixture(t, "linux/proc-uptime-devvm.txt")); err != nil || n <= 0 {
		t.Errorf("devvm uptime = %d, %v", n, err)
	}
	for _, bad := range []string{"", "x y", "-1 2", "NaN 1", "1e300 1"} {
		if _, err := ParseProcUptime([]byte(bad)); err == nil {
			t.Errorf("uptime %q: no error", bad)
		}
	}
	if v, err := ParseKernelRelease(fixture(t, "linux/uname-r-debian12-devvm.txt")); err != nil || v != "6.18.44-fc-v657" {
		t.Errorf("uname = %q, %v", v, err)
	}
	for _, bad := range []string{"", "a b", "Linux\n6.1\n", "linux"} {
		if _, err := ParseKernelRelease([]byte(bad)); err == nil {
			t.Errorf("uname %q: no error", bad)
		}
	}
}

func TestParseAptUpgradable(t *testing.T) {
	tests := []struct {
		file              string
		pending, security int
		firstSecurity     string
	}{
		{"linux/apt-list-upgradable-jammy-security.txt", 15, 9, "accountsservice"},
		{"linux/apt-list-upgradable-debian12-devvm.txt", 115, 68, "apt-transport-https"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			u, err := ParseAptUpgradable(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if u.Pending != tt.pending || u.Security != tt.security || u.SecurityNames[0] != tt.firstSecurity {
				t.Errorf("got pending %d security %d first %q", u.Pending, u.Security, u.SecurityNames[0])
			}
		})
	}
	if u, err := ParseAptUpgradable([]byte("Listing... Done\n")); err != nil || u.Pending != 0 || u.Security != 0 {
		t.Errorf("empty listing: %+v %v", u, err)
	}
	for _, bad := range []string{
		"",                     // no Listing line: not a zero
		"Auflistung… Fertig\n", // localized
		"Listing...\nfoo/bar-security 1 amd64 [aktualisierbar von: 0]\n", // localized row
	} {
		if _, err := ParseAptUpgradable([]byte(bad)); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseDnfUpdateinfo(t *testing.T) {
	tests := []struct {
		file     string
		security int
		names    []string
		oldest   time.Time
	}{
		// "list security all" also lists installed advisories without a
		// marker, so every row counts: two distinct packages.
		{"linux/yum-updateinfo-list-security-all-rhel7.txt", 2, []string{"389-ds-base", "389-ds-base-libs"}, time.Time{}},
		{"linux/dnf-list-sec-all-fedora27.txt", 1, []string{"TurboGears"}, time.Time{}},
		{"linux/dnf5-advisory-list-security-SYNTHETIC.txt", 4, []string{"curl", "libcurl", "openssl", "openssl-libs"},
			time.Date(2025, 2, 14, 8, 0, 0, 0, time.UTC)},
		{"linux/dnf5-advisory-list-narrow-columns-SYNTHETIC.txt", 2, []string{"glib2", "glib2-devel"},
			time.Date(2025, 1, 20, 20, 20, 20, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			u, err := ParseDnfUpdateinfo(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if u.Pending != -1 || u.Security != tt.security || !reflect.DeepEqual(u.SecurityNames, tt.names) || !u.OldestSecurity.Equal(tt.oldest) {
				t.Errorf("got %+v", u)
			}
		})
	}
	u, err := ParseDnfUpdateinfo([]byte("i FEDORA-2024-aaaa Important/Sec. curl-8.0-1.fc40.x86_64\n  FEDORA-2024-bbbb bugfix vim-9.1-1.fc40.x86_64\n"))
	if err != nil || u.Security != 0 {
		t.Errorf("installed marker: %+v %v", u, err)
	}
	if u, err := ParseDnfUpdateinfo(nil); err != nil || u.Security != 0 {
		t.Errorf("empty (quiet, nothing pending): %+v %v", u, err)
	}
	if _, err := ParseDnfUpdateinfo([]byte("Dernière vérification des métadonnées\n")); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("unknown line: %v", err)
	}
}

func TestParseZypperPatches(t *testing.T) {
	u, err := ParseZypperPatches(fixture(t, "linux/zypper-list-patches-two-tables-SYNTHETIC.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SUSE-SLE-Product-SLES-15-2025-101", "SUSE-SLE-Module-Basesystem-2025-9"}
	if u.Pending != 3 || u.Security != 2 || !reflect.DeepEqual(u.SecurityNames, want) {
		t.Errorf("two tables: %+v", u)
	}
	if u, err := ParseZypperPatches(fixture(t, "linux/zypper-list-patches-no-updates-SYNTHETIC.txt")); err != nil || u.Security != 0 {
		t.Errorf("no updates: %+v %v", u, err)
	}
	if _, err := ParseZypperPatches([]byte("Loading repository data...\n")); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("no table: %v", err)
	}
}

func TestRootEncryption(t *testing.T) {
	tests := []struct {
		file      string
		device    string
		encrypted bool
		crypt     string
		kname     string
		method    string
	}{
		// Real: crypto_LUKS partitions exist but "/" is on plain xfs.
		{"linux/lsblk-fJp-luks.json", "/dev/sda3", false, "", "", ""},
		// Real: this VM, "/" directly on /dev/vda.
		{"linux/lsblk-Jp-o-name-kname-type-fstype-mountpoint-devvm-plain-root.json", "/dev/vda", false, "", "", ""},
		{"linux/lsblk-Jp-o-luks2-lvm-root-SYNTHETIC.json", "/dev/mapper/ubuntu--vg-ubuntu--lv", true, "/dev/mapper/dm_crypt-0", "/dev/dm-0", "luks"},
		{"linux/lsblk-Jp-o-plain-dmcrypt-root-SYNTHETIC.json", "/dev/mapper/cryptroot", true, "/dev/mapper/cryptroot", "/dev/dm-0", "dm-crypt"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			devs, err := ParseLsblk(fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := FindRootEncryption(devs)
			if err != nil {
				t.Fatal(err)
			}
			want := RootEncryption{Device: tt.device, Encrypted: tt.encrypted, CryptName: tt.crypt, CryptKName: tt.kname, Method: tt.method}
			if r != want {
				t.Errorf("got %+v, want %+v", r, want)
			}
		})
	}
	if _, err := FindRootEncryption(nil); err == nil {
		t.Error("no root: no error")
	}
	if _, err := ParseLsblk([]byte(`{"other":1}`)); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("not lsblk: %v", err)
	}
}

func TestParseCryptsetupStatus(t *testing.T) {
	tests := []struct {
		file    string
		want    CryptStatus
		wantErr bool
	}{
		{"linux/cryptsetup-status-luks2-active.txt", CryptStatus{"/dev/mapper/dm-crypto-luks2", true, true, "LUKS2", "aes-xts-plain64", "512 bits", "/dev/sdc2"}, false},
		{"linux/cryptsetup-status-luks1-active.txt", CryptStatus{"/dev/mapper/dm-crypto-luks1", true, true, "LUKS1", "aes-xts-plain64", "512 bits", "/dev/sdc1"}, false},
		{"linux/cryptsetup-status-plain-active-not-in-use.txt", CryptStatus{"/dev/mapper/dm-crypto-plain", true, false, "PLAIN", "aes-cbc-essiv:sha256", "256 bits", "/dev/sdc3"}, false},
		{"linux/cryptsetup-status-inactive.txt", CryptStatus{Device: "/dev/mapper/dm-crypto-plain"}, false},
		{"linux/cryptsetup-status-device-not-found.txt", CryptStatus{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseCryptsetupStatus(fixture(t, tt.file))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	}
	for typ, want := range map[string]string{"LUKS2": "luks2", "LUKS1": "luks1", "PLAIN": "dm-crypt-plain", "TCRYPT": "dm-crypt-tcrypt", "": "dm-crypt"} {
		if got := cryptMethod(typ); got != want {
			t.Errorf("cryptMethod(%q) = %q", typ, got)
		}
	}
	if typ, err := ParseDMUUID(fixture(t, "linux/sys-block-dm-uuid-luks2-SYNTHETIC.txt")); err != nil || typ != "LUKS2" {
		t.Errorf("dm uuid luks2: %q %v", typ, err)
	}
	if typ, err := ParseDMUUID(fixture(t, "linux/sys-block-dm-uuid-lvm-SYNTHETIC.txt")); err != nil || typ != "" {
		t.Errorf("dm uuid lvm: %q %v", typ, err)
	}
}

func TestLinuxFirewallParsers(t *testing.T) {
	bools := []struct {
		file  string
		parse func([]byte) (bool, error)
		want  bool
	}{
		{"linux/ufw-status-verbose-active-ubuntu1804.txt", ParseUfwStatus, true},
		{"linux/ufw-status-inactive.txt", ParseUfwStatus, false},
		{"linux/firewall-cmd-state-running.txt", ParseFirewalldState, true},
		{"linux/firewall-cmd-state-not-running-SYNTHETIC.txt", ParseFirewalldState, false},
	}
	for _, tt := range bools {
		if got, err := tt.parse(fixture(t, tt.file)); err != nil || got != tt.want {
			t.Errorf("%s = %v, %v", tt.file, got, err)
		}
	}
	if _, err := ParseUfwStatus([]byte("ERROR: You need to be root to run this script\n")); err == nil {
		t.Error("ufw not root: no error")
	}
	if _, err := ParseUfwStatus([]byte("Status: aktiv\n")); err == nil {
		t.Error("ufw localized: no error")
	}
	nft := []struct {
		file   string
		chains int
		filter bool
	}{
		{"linux/nft-jat-list-ruleset-minimal.json", 1, false}, // INPUT policy accept, loopback accept only
		{"linux/nft-j-list-ruleset-inet-input-drop-SYNTHETIC.json", 1, true},
		{"linux/nft-j-list-ruleset-firewalld-final-reject-SYNTHETIC.json", 1, true},
		{"linux/nft-j-list-ruleset-empty-SYNTHETIC.json", 0, false},
	}
	for _, tt := range nft {
		got, err := ParseNftRuleset(fixture(t, tt.file))
		if err != nil || got.InputChains != tt.chains || got.Filtering != tt.filter {
			t.Errorf("%s = %+v, %v", tt.file, got, err)
		}
	}
}

func TestParseSecureBoot(t *testing.T) {
	tests := []struct {
		file string
		want bool
	}{
		{"linux/mokutil-sb-state-enabled.txt", true},
		{"linux/mokutil-sb-state-disabled.txt", false},
		{"linux/mokutil-sb-state-efi-not-supported.txt", false},
	}
	for _, tt := range tests {
		if got, err := ParseMokutilSBState(fixture(t, tt.file)); err != nil || got != tt.want {
			t.Errorf("%s = %v, %v", tt.file, got, err)
		}
	}
	if got, err := ParseMokutilSBState([]byte("SecureBoot enabled\nSecureBoot validation is disabled in shim\n")); err != nil || got {
		t.Errorf("shim validation off = %v, %v", got, err)
	}
	if _, err := ParseMokutilSBState([]byte("SecureBoot aktiviert\n")); err == nil {
		t.Error("unknown: no error")
	}
	if got, err := ParseEFISecureBootVar([]byte{6, 0, 0, 0, 1}); err != nil || !got {
		t.Errorf("efivar on = %v, %v", got, err)
	}
	if got, err := ParseEFISecureBootVar([]byte{6, 0, 0, 0, 0}); err != nil || got {
		t.Errorf("efivar off = %v, %v", got, err)
	}
	if _, err := ParseEFISecureBootVar([]byte{6, 0, 0, 0, 7}); err == nil {
		t.Error("efivar 7: no error")
	}
}

func TestLinuxScreenlockParsers(t *testing.T) {
	ids, err := ParseLoginctlSessions(fixture(t, "linux/loginctl-list-sessions-no-legend-SYNTHETIC.txt"))
	if err != nil || !reflect.DeepEqual(ids, []string{"2", "5"}) {
		t.Errorf("sessions = %v, %v", ids, err)
	}
	kv, err := ParseKeyValues(fixture(t, "linux/loginctl-show-session-wayland-SYNTHETIC.txt"))
	if err != nil || kv["Type"] != "wayland" || kv["Name"] != "alice" {
		t.Errorf("show-session = %v, %v", kv, err)
	}
	if v, err := ParseGsettingsUint(fixture(t, "linux/gsettings-get-idle-delay-300-SYNTHETIC.txt")); err != nil || v != 300 {
		t.Errorf("idle-delay = %v, %v", v, err)
	}
	if v, err := ParseGsettingsBool(fixture(t, "linux/gsettings-get-lock-enabled-true-SYNTHETIC.txt")); err != nil || !v {
		t.Errorf("lock-enabled = %v, %v", v, err)
	}
	if _, err := ParseGsettingsBool([]byte("No such schema “org.gnome.desktop.screensaver”\n")); err == nil {
		t.Error("no schema: no error")
	}
}

func TestParseLinuxInventory(t *testing.T) {
	apps, err := ParseDpkgQuery(fixture(t, "linux/dpkg-query-status-package-version-debian12-devvm.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 866 {
		t.Errorf("dpkg: %d packages, want 866", len(apps))
	}
	found := false
	for _, a := range apps {
		if a.Name == "dpkg" && a.Version != "" {
			found = true
		}
	}
	if !found {
		t.Error("dpkg: package dpkg not listed")
	}
	apps, err = ParseDpkgQuery([]byte("ii \tbash\t5.2-1\nrc \told\t1.0\nhi \theld:i386\t2.0\n"))
	if err != nil || len(apps) != 2 || apps[0].Name != "bash" || apps[1].Name != "held:i386" {
		t.Errorf("dpkg states: %v, %v", apps, err)
	}
	apps, err = ParseRpmQA(fixture(t, "linux/rpm-qa-qf-name-version-vendor-SYNTHETIC.txt"))
	if err != nil || len(apps) != 4 || apps[1] != (App{"google-chrome-stable", "124.0.6367.60-1", "Google Inc."}) {
		t.Errorf("rpm: %v, %v", apps, err)
	}
	if _, err := ParseRpmQA(nil); err == nil {
		t.Error("empty inventory: no error")
	}
}

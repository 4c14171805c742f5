package collect

import (
	"errors"
	"testing"
	"time"
	"unicode/utf16"
)

// utf16LE encodes text as PowerShell's ">" redirection does.
func utf16LE(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func TestParseSysteminfo(t *testing.T) {
	tests := []struct {
		file string
		want WinOS
	}{
		{"windows/systeminfo-win11-24h2-enterprise-ltsc-en-us.txt", WinOS{Caption: "Microsoft Windows 11 Enterprise LTSC", Version: "10.0.26100", Build: "26100"}},
		{"windows/systeminfo-win11-22h2-home-single-language-oem-en-us.txt", WinOS{Caption: "Microsoft Windows 11 Home Single Language", Version: "10.0.22621", Build: "22621"}},
		{"windows/systeminfo-win10-22h2-enterprise-en-us-zh-locale.txt", WinOS{Caption: "Microsoft Windows 10 Enterprise", Version: "10.0.19045", Build: "19045"}},
		{"windows/systeminfo-win10-1803-enterprise-x86-nl.txt", WinOS{Caption: "Microsoft Windows 10 Enterprise", Version: "10.0.17134", Build: "17134"}},
		// Chinese labels in GBK: the version is still found by its shape;
		// the edition name is not UTF-8, so it is left empty, not garbled.
		{"windows/systeminfo-win10-1809-ltsc-zh-cn-gbk.txt", WinOS{Caption: "", Version: "10.0.17763", Build: "17763"}},
	}
	for _, tt := range tests {
		if got, err := ParseSysteminfo(fixture(t, tt.file)); err != nil || got != tt.want {
			t.Errorf("%s = %+v, %v", tt.file, got, err)
		}
	}
	if _, err := ParseSysteminfo([]byte("Host Name: X\n")); err == nil {
		t.Error("no version: no error")
	}
}

func TestParseWin32OperatingSystem(t *testing.T) {
	tests := []struct {
		file string
		want WinOS
	}{
		{"windows/win32-operatingsystem-json-win11-24h2-SYNTHETIC.json", WinOS{"Microsoft Windows 11 Pro", "10.0.26100", "26100", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}},
		{"windows/win32-operatingsystem-json-ps51-date-SYNTHETIC.json", WinOS{"Microsoft Windows 10 Enterprise", "10.0.19045", "19045", time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		got, err := ParseWin32OperatingSystem(fixture(t, tt.file))
		if err != nil || got.Caption != tt.want.Caption || got.Version != tt.want.Version || got.Build != tt.want.Build || !got.LastBoot.Equal(tt.want.LastBoot) {
			t.Errorf("%s = %+v, %v", tt.file, got, err)
		}
	}
	if _, err := ParseWin32OperatingSystem([]byte(`{"Caption":"Microsoft Windows 11","Version":"10.0.1","BuildNumber":"2"}`)); err == nil {
		t.Error("inconsistent build: no error")
	}
}

func TestBitLocker(t *testing.T) {
	tests := []struct {
		file      string
		manageBDE bool
		encrypted bool
		method    string
		cipher    string
	}{
		{"windows/get-bitlockervolume-format-list-fully-encrypted-comma-decimal.txt", false, true, "bitlocker", "xts-aes-128"},
		// Table view: C: is the OperatingSystem volume, FullyDecrypted.
		{"windows/get-bitlockervolume-table-mixed-encryption-in-progress.txt", false, false, "none", ""},
		// Used Space Only Encrypted but Protection Off (clear key): not encrypted.
		{"windows/manage-bde-status-used-space-only-protection-off-comma-decimal-partial.txt", true, false, "bitlocker", "xts-aes-128"},
		{"windows/manage-bde-status-encryption-in-progress-partial.txt", true, false, "bitlocker", "xts-aes-128"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var vol BitLockerVolume
			var err error
			if tt.manageBDE {
				vol, err = ParseManageBDE(fixture(t, tt.file))
			} else {
				var vols []BitLockerVolume
				if vols, err = ParseBitLockerVolumes(fixture(t, tt.file)); err == nil {
					vol, err = SystemVolume(vols, "C:")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			cipher, _ := vol.Cipher()
			if vol.Encrypted() != tt.encrypted || vol.Method() != tt.method || cipher != tt.cipher {
				t.Errorf("got %+v: encrypted %v method %s cipher %q", vol, vol.Encrypted(), vol.Method(), cipher)
			}
		})
	}
	vols, err := ParseBitLockerVolumes(fixture(t, "windows/get-bitlockervolume-table-mixed-encryption-in-progress.txt"))
	if err != nil || len(vols) != 5 || vols[0].MountPoint != "D:" || vols[0].VolumeStatus != "EncryptionInProgress" || vols[2].ProtectionStatus != "Off" {
		t.Errorf("table = %+v, %v", vols, err)
	}
	if _, err := ParseBitLockerVolumes([]byte(`{"MountPoint":"C:","VolumeStatus":1,"ProtectionStatus":1}`)); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("numeric enums: %v", err)
	}
	if _, err := ParseManageBDE([]byte("    Konvertierungsstatus: Vollständig verschlüsselt\n    Schutzstatus: Der Schutz ist aktiviert.\n")); !errors.Is(err, ErrUnrecognized) {
		t.Errorf("German manage-bde: %v", err)
	}
}

func TestDefender(t *testing.T) {
	tests := []struct {
		file    string
		running bool
		age     int64
	}{
		{"windows/get-mpcomputerstatus-win11-22h2-normal-dd-mm-yyyy.txt", true, 0},
		// Defender not running (Kaspersky installed), signatures 65535 = none; partial capture.
		{"windows/get-ciminstance-msft-mpcomputerstatus-not-running-3rd-party-av-ru-partial.txt", false, -1},
		{"windows/get-mpcomputerstatus-json-normal-SYNTHETIC.json", true, 2},
		{"windows/get-mpcomputerstatus-json-passive-SYNTHETIC.json", false, 0},
	}
	for _, tt := range tests {
		d, err := ParseMpComputerStatus(fixture(t, tt.file))
		if err != nil || d.Running() != tt.running || d.SignatureAgeDays != tt.age {
			t.Errorf("%s = %+v (running %v), %v", tt.file, d, d.Running(), err)
		}
	}
	av, err := ParseSecurityCenterAV(fixture(t, "windows/securitycenter2-antivirusproduct-json-kaspersky-on-SYNTHETIC.json"))
	if err != nil || len(av) != 2 || av[0].Enabled || !av[1].Enabled || !av[1].UpToDate || !isDefenderName(av[0].Name) {
		t.Errorf("security center = %+v, %v", av, err)
	}
}

func TestWindowsFirewall(t *testing.T) {
	tests := []struct {
		file     string
		netsh    bool
		profiles int
		allOn    bool
	}{
		{"windows/netsh-advfirewall-show-currentprofile-domain-on.txt", true, 1, true},
		{"windows/netsh-advfirewall-show-allprofiles-state-public-off-SYNTHETIC.txt", true, 3, false},
		{"windows/get-netfirewallprofile-format-list-public-off-SYNTHETIC.txt", false, 3, false},
		{"windows/get-netfirewallprofile-format-list-all-on-SYNTHETIC.txt", false, 3, true},
	}
	for _, tt := range tests {
		parse := ParseNetFirewallProfile
		if tt.netsh {
			parse = ParseNetshFirewall
		}
		ps, err := parse(fixture(t, tt.file))
		if err != nil || len(ps) != tt.profiles || allProfilesOn(ps) != tt.allOn {
			t.Errorf("%s = %+v, %v", tt.file, ps, err)
		}
	}
	// The same Format-List redirected to a file by Windows PowerShell.
	b := utf16LE(string(fixture(t, "windows/get-netfirewallprofile-format-list-public-off-SYNTHETIC.txt")), true)
	if ps, err := ParseNetFirewallProfile(b); err != nil || len(ps) != 3 || ps[2].Enabled {
		t.Errorf("UTF-16 = %+v, %v", ps, err)
	}
	if _, err := ParseNetshFirewall([]byte("Domänenprofil-Einstellungen:\nStatus    EIN\n")); err == nil {
		t.Error("German netsh: no error")
	}
	if _, err := ParseNetFirewallProfile([]byte("Name : Domain\nEnabled : NotConfigured\n")); err == nil {
		t.Error("NotConfigured: no error")
	}
}

func TestWindowsUpdates(t *testing.T) {
	tests := []struct {
		file              string
		pending, security int
		oldest            time.Time
	}{
		{"windows/wua-com-search-pending-win10-1803-five-updates.txt", 5, -1, time.Time{}},
		{"windows/wua-com-search-pending-win10-1803-utf16le-bom.txt", 2, -1, time.Time{}},
		{"windows/wua-com-search-pending-win2012r2-one-optional.txt", 1, -1, time.Time{}},
		// Cumulative (Critical, Security class) + Security Update (class id in
		// upper case); the Defender definition update is not a security update.
		{"windows/windows-update-search-json-SYNTHETIC.json", 3, 2, time.Date(2025, 1, 14, 0, 0, 0, 0, time.UTC)},
		{"windows/windows-update-search-json-none-SYNTHETIC.json", 0, 0, time.Time{}},
	}
	for _, tt := range tests {
		u, err := ParseWindowsUpdates(fixture(t, tt.file))
		if err != nil || u.Pending != tt.pending || u.Security != tt.security || !u.OldestSecurity.Equal(tt.oldest) {
			t.Errorf("%s = %+v, %v", tt.file, u, err)
		}
	}
	if _, err := ParseWindowsUpdates(nil); err == nil {
		t.Error("empty: no error")
	}
}

func TestWindowsMisc(t *testing.T) {
	if v, err := ParseConfirmSecureBootUEFI(fixture(t, "windows/confirm-securebootuefi-true.txt")); err != nil || !v {
		t.Errorf("secure boot = %v, %v", v, err)
	}
	if v, err := ParseConfirmSecureBootUEFI(fixture(t, "windows/confirm-securebootuefi-not-supported-SYNTHETIC.txt")); err != nil || v {
		t.Errorf("not supported = %v, %v", v, err)
	}
	if _, err := ParseConfirmSecureBootUEFI([]byte("Confirm-SecureBootUEFI : Access was denied.\n")); err == nil {
		t.Error("access denied: no error")
	}
	apps, err := ParseUninstallEntries(fixture(t, "windows/uninstall-keys-json-SYNTHETIC.json"))
	if err != nil || len(apps) != 4 || apps[0].Name != "7-Zip 24.09 (x64)" || apps[3].Publisher != "" {
		t.Errorf("apps = %+v, %v", apps, err)
	}
}

package collect

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Kind is the type of a signal's value.
type Kind string

// The kinds a signal value can have; Value holds the matching Go type.
const (
	KindString Kind = "string" // Value is a string
	KindBool   Kind = "bool"   // Value is a bool
	KindInt    Kind = "int"    // Value is an int64
	KindApps   Kind = "apps"   // Value is a []App
)

// Signal is one posture fact collected on the device.
type Signal struct {
	// Name is the stable dotted signal name (see SIGNALS.md).
	Name string `json:"name"`
	// Value is a string, bool, int64 or []App, as the signal's Kind says;
	// nil when Error is set.
	Value any `json:"value,omitempty"`
	// Source is the command or file the value came from, e.g. "lsblk -J".
	Source string `json:"source"`
	// CollectedAt is when the collector produced the value.
	CollectedAt time.Time `json:"collected_at"`
	// Error says why a collector that ran could not tell the value.
	Error string `json:"error,omitempty"`
}

// App is one installed application in the apps.installed inventory.
type App struct {
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
	Publisher string `json:"publisher,omitempty"`
}

// OK reports whether the signal carries a value rather than an error.
func (s Signal) OK() bool { return s.Error == "" && s.Value != nil }

// UnmarshalJSON decodes a signal and restores the Go type of Value from the
// signal's kind, so an int stays an int64 and apps stay []App.
func (s *Signal) UnmarshalJSON(data []byte) error {
	var raw struct {
		Name        string          `json:"name"`
		Value       json.RawMessage `json:"value"`
		Source      string          `json:"source"`
		CollectedAt time.Time       `json:"collected_at"`
		Error       string          `json:"error"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*s = Signal{Name: raw.Name, Source: raw.Source, CollectedAt: raw.CollectedAt, Error: raw.Error}
	if len(raw.Value) == 0 || string(raw.Value) == "null" {
		return nil
	}
	spec, ok := Spec(raw.Name)
	if !ok {
		return fmt.Errorf("signal %q: unknown name", raw.Name)
	}
	var err error
	switch spec.Kind {
	case KindString:
		var v string
		err = json.Unmarshal(raw.Value, &v)
		s.Value = v
	case KindBool:
		var v bool
		err = json.Unmarshal(raw.Value, &v)
		s.Value = v
	case KindInt:
		var v int64
		err = json.Unmarshal(raw.Value, &v)
		s.Value = v
	case KindApps:
		var v []App
		err = json.Unmarshal(raw.Value, &v)
		s.Value = v
	}
	if err != nil {
		return fmt.Errorf("signal %q: value: %w", raw.Name, err)
	}
	return nil
}

// SignalSpec describes one signal name: its value kind, meaning and platforms.
type SignalSpec struct {
	Name        string
	Kind        Kind
	Platforms   string // comma-separated: linux, macos, windows
	Description string
}

// Signal names. They are stable: extend, never rename.
const (
	AgentVersion               = "agent.version"
	OSName                     = "os.name"
	OSID                       = "os.id"
	OSVersion                  = "os.version"
	OSBuild                    = "os.build"
	KernelVersion              = "kernel.version"
	UptimeSeconds              = "uptime.seconds"
	DiskFreeBytes              = "disk.free_bytes"
	DiskEncrypted              = "disk.encrypted"
	DiskEncryptionMethod       = "disk.encryption_method"
	DiskEncryptionCipher       = "disk.encryption_cipher"
	UpdatesPending             = "updates.pending"
	UpdatesSecurityPending     = "updates.security_pending"
	UpdatesSecurityOldestDays  = "updates.security_oldest_days"
	FirewallEnabled            = "firewall.enabled"
	FirewallProduct            = "firewall.product"
	ScreenlockEnabled          = "screenlock.enabled"
	ScreenlockDelaySeconds     = "screenlock.delay_seconds"
	SecurebootEnabled          = "secureboot.enabled"
	SIPEnabled                 = "sip.enabled"
	GatekeeperEnabled          = "gatekeeper.enabled"
	AntivirusRunning           = "antivirus.running"
	AntivirusProduct           = "antivirus.product"
	AntivirusSignaturesAgeDays = "antivirus.signatures_age_days"
	MDMEnrolled                = "mdm.enrolled"
	AppsInstalled              = "apps.installed"
	// Signals no built-in collector produces yet; external sources (an
	// existing MDM/EDR) and future mobile agents report them.
	DeviceRooted           = "device.rooted"
	LocationCoordinates    = "location.coordinates"
	LocationAccuracyMeters = "location.accuracy_meters"
)

// specTable is the constant table of every signal the package can produce.
func specTable() []SignalSpec {
	return []SignalSpec{
		{AgentVersion, KindString, "linux,macos,windows", "version of the Portier agent that collected the report"},
		{OSName, KindString, "linux,macos,windows", "operating system name (os-release NAME, sw_vers ProductName, Win32_OperatingSystem Caption)"},
		{OSID, KindString, "linux,macos,windows", "lower-case OS id: os-release ID (ubuntu, fedora…), macos, windows"},
		{OSVersion, KindString, "linux,macos,windows", "OS version (os-release VERSION_ID, sw_vers ProductVersion, Windows 10.0.BUILD)"},
		{OSBuild, KindString, "macos,windows", "OS build (sw_vers BuildVersion, Windows build number)"},
		{KernelVersion, KindString, "linux,macos", "kernel release (uname -r)"},
		{UptimeSeconds, KindInt, "linux,macos,windows", "whole seconds since boot"},
		{DiskFreeBytes, KindInt, "linux,macos,windows", "bytes available to unprivileged users on the root volume / system drive"},
		{DiskEncrypted, KindBool, "linux,macos,windows", "the root volume / system drive is fully encrypted and protection is on"},
		{DiskEncryptionMethod, KindString, "linux,macos,windows", "luks1, luks2, dm-crypt-plain, filevault, bitlocker, or none"},
		{DiskEncryptionCipher, KindString, "linux,windows", "cipher of the root volume (aes-xts-plain64, xts-aes-128…) when known"},
		{UpdatesPending, KindInt, "linux,macos,windows", "number of pending updates of any kind"},
		{UpdatesSecurityPending, KindInt, "linux,macos,windows", "number of pending security updates (packages on apt/dnf, patches on zypper, updates on macOS/Windows)"},
		{UpdatesSecurityOldestDays, KindInt, "linux,windows", "age in days of the oldest pending security update (dnf5, Windows Update)"},
		{FirewallEnabled, KindBool, "linux,macos,windows", "a host firewall is filtering inbound traffic (Windows: every profile on)"},
		{FirewallProduct, KindString, "linux,macos,windows", "the firewall that reported: firewalld, ufw, nftables, macOS Application Firewall, Windows Firewall"},
		{ScreenlockEnabled, KindBool, "linux,macos", "the screen locks by itself after inactivity"},
		{ScreenlockDelaySeconds, KindInt, "linux,macos", "seconds of inactivity before the screen locks"},
		{SecurebootEnabled, KindBool, "linux,windows", "UEFI Secure Boot is on (no EFI = false)"},
		{SIPEnabled, KindBool, "macos", "System Integrity Protection fully enabled (a custom configuration is false)"},
		{GatekeeperEnabled, KindBool, "macos", "Gatekeeper assessments enabled"},
		{AntivirusRunning, KindBool, "windows", "an antivirus is running with real-time protection"},
		{AntivirusProduct, KindString, "windows", "name of the antivirus that reported"},
		{AntivirusSignaturesAgeDays, KindInt, "windows", "age in days of the antivirus signatures"},
		{MDMEnrolled, KindBool, "macos", "the device is enrolled in an MDM (profiles status)"},
		{AppsInstalled, KindApps, "linux,macos,windows", "installed applications/packages: name, version, publisher"},
		{DeviceRooted, KindBool, "external", "the device is rooted or jailbroken (reported by an external MDM/EDR)"},
		{LocationCoordinates, KindString, "none", "\"lat,lon\"; no collector produces it; accepted only in an agent report, when the organization enabled location, within working hours"},
		{LocationAccuracyMeters, KindInt, "none", "accuracy of location.coordinates in meters"},
	}
}

// Specs returns the description of every signal, sorted by name.
func Specs() []SignalSpec {
	t := specTable()
	sort.Slice(t, func(i, j int) bool { return t[i].Name < t[j].Name })
	return t
}

// Spec returns the description of one signal name.
func Spec(name string) (SignalSpec, bool) {
	for _, s := range specTable() {
		if s.Name == name {
			return s, true
		}
	}
	return SignalSpec{}, false
}

// AllSignals returns every signal name, sorted.
func AllSignals() []string {
	specs := Specs()
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// Allowed is the set of signal names a data profile lets the agent collect.
// The nil set allows nothing: privacy by default.
type Allowed map[string]struct{}

// Allow builds an Allowed set from signal names.
func Allow(names ...string) Allowed {
	a := make(Allowed, len(names))
	for _, n := range names {
		a[n] = struct{}{}
	}
	return a
}

// Has reports whether the set allows the signal name.
func (a Allowed) Has(name string) bool {
	_, ok := a[name]
	return ok
}

// Any reports whether the set allows at least one of the names.
func (a Allowed) Any(names ...string) bool {
	for _, n := range names {
		if a.Has(n) {
			return true
		}
	}
	return false
}

package agentwire

import (
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"", 1, 0, true}, // an agent older than the header
		{"1.0", 1, 0, true},
		{"1.7", 1, 7, true},
		{"2.0", 2, 0, true},
		{"10.12", 10, 12, true},
		{"1", 0, 0, false},
		{"1.", 0, 0, false},
		{".1", 0, 0, false},
		{"-1.0", 0, 0, false},
		{"+1.0", 0, 0, false},
		{"1.0.0", 0, 0, false},
		{" 1.0", 0, 0, false},
		{"v1.0", 0, 0, false},
		{"99999999999999.0", 0, 0, false},
	} {
		major, minor, err := ParseVersion(tc.in)
		if (err == nil) != tc.ok || major != tc.major || minor != tc.minor {
			t.Errorf("ParseVersion(%q) = %d, %d, %v; want %d, %d, ok %v", tc.in, major, minor, err, tc.major, tc.minor, tc.ok)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	var ve *VersionError
	for _, tc := range []struct {
		in        string
		ok, newer bool
	}{
		{"", true, false},
		{Version, true, false},
		{"1.9", true, false}, // a newer minor only adds what this side can ignore
		{"2.0", false, true},
		{"0.3", false, false},
	} {
		err := CheckVersion(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("CheckVersion(%q) = %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && (!errors.As(err, &ve) || ve.PeerNewer() != tc.newer) {
			t.Errorf("CheckVersion(%q) = %v, want a VersionError with PeerNewer %v", tc.in, err, tc.newer)
		}
	}
	if err := CheckVersion("one"); err == nil || errors.As(err, &ve) {
		t.Errorf("CheckVersion(malformed) = %v, want a plain error", err)
	}
	if v := string(rune('0'+Major)) + "." + string(rune('0'+Minor)); v != Version {
		t.Errorf("Version = %q, Major.Minor = %q", Version, v)
	}
}

// FuzzParseVersion: the header comes from the network; whatever it holds,
// the parser neither panics nor accepts something it cannot print back.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"", "1.0", "2.15", "1", "a.b", "1.0.0", "٣.٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		major, minor, err := ParseVersion(s)
		if err != nil || s == "" {
			return
		}
		if major < 0 || minor < 0 || len(s) > maxVersionLen {
			t.Fatalf("ParseVersion(%q) accepted %d.%d", s, major, minor)
		}
	})
}

package policy

import (
	"net/netip"
	"time"

	"github.com/portier/portier/store"
)

// testNow is a Wednesday, 10:30 in Paris (CEST, UTC+2).
var testNow = time.Date(2025, 6, 11, 8, 30, 0, 0, time.UTC)

// baseInput is a staff member on a healthy corporate laptop in the office.
func baseInput() Input {
	return Input{
		Authenticated: true,
		UserID:        "u-1",
		Email:         "Alice@Example.com",
		Groups:        []string{"staff", "eng"},
		IdP:           "corp",
		MFAAt:         testNow.Add(-5 * time.Minute),
		Device: Device{
			ID:            "dev-1",
			Trust:         store.TrustMedium,
			Ownership:     store.OwnershipCorporate,
			Platform:      "macOS",
			Compliant:     true,
			Managed:       true,
			PassingChecks: []string{"disk_encrypted", "firewall"},
			LastSeen:      testNow.Add(-time.Hour),
		},
		IP:      netip.MustParseAddr("10.1.2.3"),
		Country: "FR",
		Now:     testNow,
		Method:  "GET",
		Path:    "/wiki/page",
	}
}

// with returns baseInput changed by f.
func with(f func(*Input)) Input {
	in := baseInput()
	if f != nil {
		f(&in)
	}
	return in
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

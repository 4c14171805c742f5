package collect

import (
	"strings"
)

// FirewallProfile is one Windows Firewall profile (Domain, Private, Public).
type FirewallProfile struct {
	Name    string
	Enabled bool
}

// firewallScript lists every profile's state as Format-List, where the
// GpoBoolean reads True/False/NotConfigured rather than a number.
const firewallScript = "Get-NetFirewallProfile | Format-List Name,Enabled"

// ParseNetFirewallProfile parses Get-NetFirewallProfile (Format-List or
// JSON). Enabled must read True or False; NotConfigured or anything else is
// an error.
func ParseNetFirewallProfile(data []byte) ([]FirewallProfile, error) {
	recs, err := ParsePSObjects(data)
	if err != nil {
		return nil, err
	}
	var out []FirewallProfile
	for _, r := range recs {
		if r["Name"] == "" {
			return nil, unrecognized("Get-NetFirewallProfile", "profile without a name")
		}
		on, err := psBool(r, "Enabled")
		if err != nil {
			return nil, err
		}
		out = append(out, FirewallProfile{Name: r["Name"], Enabled: on})
	}
	if len(out) == 0 {
		return nil, unrecognized("Get-NetFirewallProfile", "no profiles")
	}
	return out, nil
}

// ParseNetshFirewall parses the English output of `netsh advfirewall show
// allprofiles state` (or currentprofile): "<Name> Profile Settings:" then
// "State  ON|OFF". Other display languages are errors.
func ParseNetshFirewall(data []byte) ([]FirewallProfile, error) {
	var out []FirewallProfile
	current := ""
	for _, l := range textLines(data) {
		t := strings.TrimSpace(l)
		if name, ok := strings.CutSuffix(t, " Profile Settings:"); ok {
			current = name
			continue
		}
		f := strings.Fields(t)
		if len(f) == 2 && f[0] == "State" {
			if current == "" {
				return nil, unrecognized("netsh advfirewall", t)
			}
			switch f[1] {
			case "ON":
				out = append(out, FirewallProfile{Name: current, Enabled: true})
			case "OFF":
				out = append(out, FirewallProfile{Name: current})
			default:
				return nil, unrecognized("netsh advfirewall", t)
			}
			current = ""
		}
	}
	if len(out) == 0 {
		return nil, unrecognized("netsh advfirewall", "no profile state (not English?)")
	}
	return out, nil
}

// allProfilesOn is true when every listed profile is enabled.
func allProfilesOn(ps []FirewallProfile) bool {
	for _, p := range ps {
		if !p.Enabled {
			return false
		}
	}
	return len(ps) > 0
}

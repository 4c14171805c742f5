package collect

import (
	"strings"
	"time"
)

// Updates summarizes the pending updates a package tool reported.
type Updates struct {
	// Pending counts all pending updates; -1 when the format does not say.
	Pending int
	// Security counts pending security updates; -1 when the format does
	// not classify updates.
	Security int
	// SecurityNames lists what Security counted (packages or patches).
	SecurityNames []string
	// OldestSecurity is the issue date of the oldest pending security
	// update; zero when the format does not carry dates.
	OldestSecurity time.Time
}

// ParseAptUpgradable parses `apt list --upgradable` (run with LC_ALL=C).
// Every row is a pending update; rows with a suite ending in "-security"
// (jammy-security, bookworm-security) are security updates. The "Listing..."
// line must be present and every other line must be a row or apt's CLI
// warning, so a changed or localized format is an error, never a zero.
func ParseAptUpgradable(data []byte) (Updates, error) {
	u := Updates{}
	listing := false
	for _, line := range textLines(data) {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			continue
		case t == "Listing..." || t == "Listing... Done" || t == "Listing... done":
			listing = true
			continue
		case strings.HasPrefix(t, "WARNING: apt does not have a stable CLI interface"):
			continue
		case strings.HasPrefix(t, "N: ") || strings.HasPrefix(t, "W: "):
			// apt notices such as "N: There is 1 additional version".
			continue
		}
		name, suites, ok := parseAptRow(t)
		if !ok {
			return Updates{}, unrecognized("apt list --upgradable", t)
		}
		u.Pending++
		for _, s := range suites {
			if strings.HasSuffix(s, "-security") {
				u.Security++
				u.SecurityNames = append(u.SecurityNames, name)
				break
			}
		}
	}
	if !listing {
		return Updates{}, unrecognized("apt list --upgradable", "no \"Listing...\" line")
	}
	return u, nil
}

// parseAptRow splits "name/suite1,suite2 version arch [upgradable from: old]".
func parseAptRow(line string) (string, []string, bool) {
	fields := strings.Fields(line)
	if len(fields) != 6 || fields[3] != "[upgradable" || fields[4] != "from:" || !strings.HasSuffix(fields[5], "]") {
		return "", nil, false
	}
	name, suites, ok := strings.Cut(fields[0], "/")
	if !ok || !isPackageName(name) || suites == "" {
		return "", nil, false
	}
	return name, strings.Split(suites, ","), true
}

// isPackageName accepts Debian and RPM package names.
func isPackageName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("+-._:~^", r):
		default:
			return false
		}
	}
	return true
}

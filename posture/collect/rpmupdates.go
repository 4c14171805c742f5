package collect

import (
	"sort"
	"strings"
	"time"
)

// ParseDnfUpdateinfo parses the advisory lists of the RPM tools:
// `dnf updateinfo list --security` and `yum updateinfo list security`
// (rows "ADVISORY Severity/Sec. NEVRA", optionally marked "i" when installed)
// and dnf5's `dnf advisory list --security` (a "Name Type Severity Package
// Issued" table, type possibly cut to "secu"). Security counts distinct
// package names with a pending security advisory; Pending is -1 because
// these lists do not show updates without an advisory. dnf5 rows carry an
// issue date, which gives OldestSecurity. Known progress and plugin noise is
// skipped; any other line is an error.
func ParseDnfUpdateinfo(data []byte) (Updates, error) {
	u := Updates{Pending: -1}
	seen := map[string]bool{}
	for _, line := range textLines(data) {
		fields := strings.Fields(line)
		if len(fields) == 0 || isDnfNoise(line) {
			continue
		}
		adv, ok := parseAdvisoryRow(fields)
		if !ok {
			return Updates{}, unrecognized("dnf updateinfo", line)
		}
		if !adv.security || adv.installed {
			continue
		}
		if !seen[adv.pkg] {
			seen[adv.pkg] = true
			u.SecurityNames = append(u.SecurityNames, adv.pkg)
		}
		if !adv.issued.IsZero() && (u.OldestSecurity.IsZero() || adv.issued.Before(u.OldestSecurity)) {
			u.OldestSecurity = adv.issued
		}
	}
	sort.Strings(u.SecurityNames)
	u.Security = len(u.SecurityNames)
	return u, nil
}

type advisoryRow struct {
	pkg       string
	security  bool
	installed bool
	issued    time.Time
}

// parseAdvisoryRow reads one dnf4/yum or dnf5 advisory row.
func parseAdvisoryRow(f []string) (advisoryRow, bool) {
	var r advisoryRow
	switch {
	case len(f) == 4 && (f[0] == "i" || f[0] == "I"):
		r.installed = true
		f = f[1:]
		fallthrough
	case len(f) == 3: // ADVISORY TYPE NEVRA
		if !isAdvisoryID(f[0]) {
			return r, false
		}
		r.security = strings.HasSuffix(f[1], "/Sec.") || strings.EqualFold(f[1], "security")
		name, ok := nevraName(f[2])
		r.pkg = name
		return r, ok
	case len(f) == 6: // dnf5: ADVISORY TYPE SEVERITY NEVRA DATE TIME
		if !isAdvisoryID(f[0]) {
			return r, false
		}
		t, err := time.Parse("2006-01-02 15:04:05", f[4]+" "+f[5])
		if err != nil {
			return r, false
		}
		r.issued = t
		r.security = len(f[1]) >= 3 && strings.HasPrefix("security", strings.ToLower(f[1]))
		name, ok := nevraName(f[3])
		r.pkg = name
		return r, ok
	}
	return r, false
}

// isAdvisoryID accepts FEDORA-2024-1e8a70c30e, RHSA-2018:0414, ALSA-…, etc.
func isAdvisoryID(s string) bool {
	if len(s) < 5 || len(s) > 100 || !strings.ContainsAny(s, "-:") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-:_.", r)) {
			return false
		}
	}
	return s[0] >= 'A' && s[0] <= 'Z'
}

// nevraName extracts the package name from name-[epoch:]version-release.arch.
func nevraName(s string) (string, bool) {
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || dot == len(s)-1 || !isPackageName(s) {
		return "", false
	}
	rest := s[:dot]
	for i := 0; i < 2; i++ {
		dash := strings.LastIndexByte(rest, '-')
		if dash <= 0 {
			return "", false
		}
		rest = rest[:dash]
	}
	return rest, true
}

// isDnfNoise recognizes the non-row lines yum and dnf print around lists.
func isDnfNoise(line string) bool {
	t := strings.TrimSpace(line)
	for _, p := range []string{
		"Loaded plugins:", "Last metadata expiration check:", "Repository '",
		"Updating and loading repositories:", "Repositories loaded.",
		"updateinfo list done", "Updating Subscription Management repositories.",
		"This system is", "Unable to read consumer identity", "Loading mirror speeds",
	} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	if strings.HasPrefix(t, ": ") && line != t {
		return true // continuation of "Loaded plugins:"
	}
	f := strings.Fields(t)
	if len(f) == 5 && f[0] == "Name" && f[1] == "Type" && f[2] == "Severity" && f[3] == "Package" && f[4] == "Issued" {
		return true // dnf5 header
	}
	// Metadata download progress: "repo  966 kB/s | 989 B  00:00".
	return strings.Contains(t, " | ") && (strings.Contains(t, "B/s") || strings.Contains(t, "%"))
}

// ParseZypperPatches parses `zypper list-patches` tables (optionally
// `--category security`): every "|"-separated table whose header has
// Category and Status columns. Security counts rows of category "security"
// whose status is "needed"; Pending counts all needed rows. A listing must
// hold such a table or say "No updates found.", else it is an error.
func ParseZypperPatches(data []byte) (Updates, error) {
	u := Updates{}
	seenTable, noUpdates := false, false
	lines := textLines(data)
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "No updates found." || t == "No patches found." {
			noUpdates = true
			continue
		}
		if !strings.Contains(t, "|") {
			continue
		}
		header := splitTableRow(t)
		cat, status, name := indexOf(header, "Category"), indexOf(header, "Status"), indexOf(header, "Name")
		if cat < 0 || status < 0 {
			return Updates{}, unrecognized("zypper list-patches", t)
		}
		if name < 0 {
			name = indexOf(header, "Patch")
		}
		if i+1 >= len(lines) || strings.Trim(strings.TrimSpace(lines[i+1]), "-+") != "" {
			return Updates{}, unrecognized("zypper list-patches", "table header without separator")
		}
		seenTable = true
		for i += 2; i < len(lines) && strings.Contains(lines[i], "|"); i++ {
			row := splitTableRow(lines[i])
			if len(row) != len(header) {
				return Updates{}, unrecognized("zypper list-patches", lines[i])
			}
			if !strings.EqualFold(row[status], "needed") {
				continue
			}
			u.Pending++
			if strings.EqualFold(row[cat], "security") {
				u.Security++
				if name >= 0 {
					u.SecurityNames = append(u.SecurityNames, row[name])
				}
			}
		}
		i-- // the line that ended the table is read again by the outer loop
	}
	if !seenTable && !noUpdates {
		return Updates{}, unrecognized("zypper list-patches", "no patch table and no \"No updates found.\"")
	}
	return u, nil
}

func splitTableRow(line string) []string {
	cells := strings.Split(line, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

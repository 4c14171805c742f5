package collect

import (
	"strconv"
	"strings"
)

// MacUpdate is one item of `softwareupdate --list`.
type MacUpdate struct {
	Label       string
	Title       string
	Version     string
	Recommended bool
	Restart     bool
}

// ParseSoftwareUpdateList parses `softwareupdate --list` (macOS 10.15 and
// later: "* Label: …" then "\tTitle: …, Version: …, Size: …, Recommended:
// YES, Action: restart,"). The listing must say "No new software
// available." or "Software Update found the following…"; a scan error or
// any other text is an error.
func ParseSoftwareUpdateList(data []byte) ([]MacUpdate, error) {
	var ups []MacUpdate
	found, none := false, false
	for _, l := range textLines(data) {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || t == "Software Update Tool" || t == "Finding available software":
		case t == "No new software available.":
			none = true
		case strings.HasPrefix(t, "Software Update found the following new or updated software"):
			found = true
		case strings.HasPrefix(t, "Scan finished with error"):
			return nil, unrecognized("softwareupdate", t)
		case strings.HasPrefix(t, "* Label: "):
			if !found {
				return nil, unrecognized("softwareupdate", t)
			}
			ups = append(ups, MacUpdate{Label: strings.TrimPrefix(t, "* Label: ")})
		case strings.HasPrefix(t, "Title: "):
			if len(ups) == 0 || ups[len(ups)-1].Title != "" {
				return nil, unrecognized("softwareupdate", t)
			}
			u := &ups[len(ups)-1]
			for _, part := range strings.Split(t, ", ") {
				k, v, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(part), ","), ": ")
				switch k {
				case "Title":
					u.Title = v
				case "Version":
					u.Version = v
				case "Recommended":
					u.Recommended = v == "YES"
				case "Action":
					u.Restart = v == "restart"
				}
			}
		default:
			return nil, unrecognized("softwareupdate", t)
		}
	}
	if found == none {
		return nil, unrecognized("softwareupdate", "neither a list nor \"No new software available.\"")
	}
	for _, u := range ups {
		if u.Title == "" {
			return nil, unrecognized("softwareupdate", "label without title: "+u.Label)
		}
	}
	return ups, nil
}

// MacSecurityUpdates counts the pending updates that carry security fixes.
// softwareupdate does not classify updates, so the rule is: a title naming
// "Security" (Security Update 2021-001, Background Security Improvement,
// Rapid Security Response), or a macOS update of the installed major
// release (13.3 → 13.3.1: Apple ships security fixes in point releases). A
// new major release and betas are not counted. osVersion is the installed
// ProductVersion.
func MacSecurityUpdates(ups []MacUpdate, osVersion string) (int, bool) {
	major, ok := majorVersion(osVersion)
	if !ok {
		return 0, false
	}
	n := 0
	for _, u := range ups {
		if strings.Contains(u.Title, "Beta") {
			continue
		}
		if strings.Contains(u.Title, "Security") {
			n++
			continue
		}
		if m, ok := majorVersion(u.Version); ok && strings.HasPrefix(u.Title, "macOS") && m == major {
			n++
		}
	}
	return n, true
}

func majorVersion(v string) (int, bool) {
	head, _, _ := strings.Cut(strings.TrimSpace(v), ".")
	n, err := strconv.Atoi(head)
	return n, err == nil && n > 0
}

package collect

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SwVers is the output of macOS `sw_vers`.
type SwVers struct {
	ProductName    string // "macOS", or "Mac OS X" before 10.12
	ProductVersion string // "15.7.1"
	BuildVersion   string // "24G231"
}

// ParseSwVers parses `sw_vers`: "Key:<TAB>value" lines (one or two TABs
// depending on the release; the last line may lack its newline).
func ParseSwVers(data []byte) (SwVers, error) {
	var v SwVers
	for _, l := range textLines(data) {
		k, val, ok := strings.Cut(l, ":")
		if !ok {
			if strings.TrimSpace(l) == "" {
				continue
			}
			return SwVers{}, unrecognized("sw_vers", l)
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(k) {
		case "ProductName":
			v.ProductName = val
		case "ProductVersion":
			v.ProductVersion = val
		case "BuildVersion":
			v.BuildVersion = val
		}
	}
	if v.ProductName == "" || !isDottedVersion(v.ProductVersion) || v.BuildVersion == "" {
		return SwVers{}, unrecognized("sw_vers", string(data))
	}
	return v, nil
}

// isDottedVersion accepts "10.13", "15.7.1".
func isDottedVersion(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 1 || len(parts) > 4 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return false
		}
	}
	return true
}

// ParseKernBoottime parses `sysctl -n kern.boottime`
// ("{ sec = 1700000000, usec = 123456 } Tue Nov 14 22:13:20 2023").
func ParseKernBoottime(data []byte) (time.Time, error) {
	t := strings.TrimSpace(normalizeText(data))
	rest, ok := strings.CutPrefix(t, "{ sec = ")
	if !ok {
		return time.Time{}, unrecognized("kern.boottime", t)
	}
	num, _, ok := strings.Cut(rest, ",")
	if !ok {
		return time.Time{}, unrecognized("kern.boottime", t)
	}
	sec, err := strconv.ParseInt(num, 10, 64)
	if err != nil || sec <= 0 || sec > 1<<40 {
		return time.Time{}, unrecognized("kern.boottime", t)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// SIPStatus is the output of `csrutil status`.
type SIPStatus struct {
	Status string // enabled, disabled or unknown
	Custom bool   // "(Custom Configuration)"
	// Disabled lists the protections a custom configuration turned off.
	Disabled []string
}

// Enabled is true only for a fully enabled SIP: a custom configuration
// with any protection off counts as not enabled (fail closed).
func (s SIPStatus) Enabled() bool { return s.Status == "enabled" && len(s.Disabled) == 0 && !s.Custom }

// ParseCsrutilStatus parses `csrutil status`.
func ParseCsrutilStatus(data []byte) (SIPStatus, error) {
	lines := textLines(data)
	const prefix = "System Integrity Protection status: "
	var st SIPStatus
	head := ""
	if len(lines) > 0 {
		head = strings.TrimSpace(lines[0])
	}
	rest, ok := strings.CutPrefix(head, prefix)
	if !ok {
		return SIPStatus{}, unrecognized("csrutil status", head)
	}
	rest = strings.TrimSuffix(rest, ".")
	if r, ok := strings.CutSuffix(rest, " (Custom Configuration)"); ok {
		st.Custom, rest = true, r
	}
	switch rest {
	case "enabled", "disabled", "unknown":
		st.Status = rest
	default:
		return SIPStatus{}, unrecognized("csrutil status", head)
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ": ")
		if ok && strings.TrimSpace(v) == "disabled" {
			st.Disabled = append(st.Disabled, k)
		}
	}
	return st, nil
}

// ParseSpctlStatus parses `spctl --status`: "assessments enabled" or
// "assessments disabled" (Gatekeeper).
func ParseSpctlStatus(data []byte) (bool, error) {
	for _, l := range textLines(data) {
		switch strings.TrimSpace(l) {
		case "assessments enabled":
			return true, nil
		case "assessments disabled":
			return false, nil
		}
	}
	return false, unrecognized("spctl --status", string(data))
}

// MDMEnrollment is the output of `profiles status -type enrollment`.
type MDMEnrollment struct {
	DEP          bool
	Enrolled     bool
	UserApproved bool
	Server       string
}

// ParseProfilesEnrollment parses `profiles status -type enrollment`. The
// "MDM enrollment:" line must be present and say Yes or No.
func ParseProfilesEnrollment(data []byte) (MDMEnrollment, error) {
	var m MDMEnrollment
	seen := false
	for _, l := range textLines(data) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Enrolled via DEP":
			m.DEP = v == "Yes"
		case "MDM enrollment":
			switch {
			case v == "No":
			case v == "Yes":
				m.Enrolled = true
			case v == "Yes (User Approved)":
				m.Enrolled, m.UserApproved = true, true
			default:
				return MDMEnrollment{}, unrecognized("profiles status", l)
			}
			seen = true
		case "MDM server":
			m.Server = v
		}
	}
	if !seen {
		return MDMEnrollment{}, fmt.Errorf("profiles status: %w: no \"MDM enrollment:\" line", ErrUnrecognized)
	}
	return m, nil
}

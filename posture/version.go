package posture

import (
	"errors"
	"strconv"
	"strings"
)

// version is a dotted numeric version such as 10.0.22631 or 14.6.1, with an
// optional pre-release suffix ("1.2.0-rc1"), which sorts before the release.
type version struct {
	parts []int
	pre   bool
}

// parseVersion reads a version; anything that is not dotted numbers (a
// distribution codename, "dev") is an error, so a check fails closed.
func parseVersion(s string) (version, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	num := s
	var v version
	if i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); i >= 0 {
		num, v.pre = s[:i], true
		if rest := s[i:]; rest[0] != '-' && rest[0] != '+' && rest[0] != ' ' && rest[0] != '~' {
			return version{}, errors.New("version " + strconv.Quote(s) + " is not dotted numbers such as 14.6 or 10.0.22631")
		}
		if s[i] == '+' || s[i] == ' ' {
			v.pre = false // build metadata or a trailing label ("24.04 LTS") do not make a pre-release
		}
	}
	if num == "" {
		return version{}, errors.New("version " + strconv.Quote(s) + " is not dotted numbers such as 14.6 or 10.0.22631")
	}
	for _, part := range strings.Split(num, ".") {
		if part == "" || len(part) > 9 {
			return version{}, errors.New("version " + strconv.Quote(s) + " is not dotted numbers such as 14.6 or 10.0.22631")
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return version{}, err
		}
		v.parts = append(v.parts, n)
		if len(v.parts) > 8 {
			return version{}, errors.New("version " + strconv.Quote(s) + " has too many parts")
		}
	}
	return v, nil
}

// compare returns -1, 0 or 1; missing parts count as 0 (14 == 14.0).
func (a version) compare(b version) int {
	for i := 0; i < max(len(a.parts), len(b.parts)); i++ {
		var x, y int
		if i < len(a.parts) {
			x = a.parts[i]
		}
		if i < len(b.parts) {
			y = b.parts[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	switch {
	case a.pre && !b.pre:
		return -1
	case !a.pre && b.pre:
		return 1
	}
	return 0
}

// versionAtLeast reports whether have >= want; an unparsable have is an error.
func versionAtLeast(have, want string) (bool, error) {
	h, err := parseVersion(have)
	if err != nil {
		return false, err
	}
	w, err := parseVersion(want)
	if err != nil {
		return false, err
	}
	return h.compare(w) >= 0, nil
}

// maxVersion returns the higher of two valid versions.
func maxVersion(a, b string) string {
	if a == "" {
		return b
	}
	if ok, err := versionAtLeast(a, b); err == nil && !ok {
		return b
	}
	return a
}

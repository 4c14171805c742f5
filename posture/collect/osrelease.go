package collect

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseOSRelease parses /etc/os-release (freedesktop.org format) into its
// variables, unquoting single- and double-quoted values. Malformed lines are
// skipped, as the specification asks; output with no variable is an error.
func ParseOSRelease(data []byte) (map[string]string, error) {
	vars := map[string]string{}
	for _, line := range textLines(data) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok || !isEnvName(key) {
			continue
		}
		v, ok := unquoteShell(raw)
		if !ok {
			continue
		}
		vars[key] = v
	}
	if len(vars) == 0 {
		return nil, unrecognized("os-release", string(data))
	}
	return vars, nil
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// unquoteShell unquotes an os-release value: "…" with \ escapes for $ " \ `,
// '…' verbatim, or a bare word.
func unquoteShell(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	switch s[0] {
	case '\'':
		if len(s) < 2 || s[len(s)-1] != '\'' || strings.Contains(s[1:len(s)-1], "'") {
			return "", false
		}
		return s[1 : len(s)-1], true
	case '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && strings.IndexByte("$\"\\`", s[i+1]) >= 0:
				i++
				b.WriteByte(s[i])
			case c == '"':
				if i != len(s)-1 {
					return "", false
				}
				return b.String(), true
			default:
				b.WriteByte(c)
			}
		}
		return "", false
	}
	if strings.ContainsAny(s, " \t\"'\\$`") {
		return "", false
	}
	return s, true
}

// ParseProcUptime parses /proc/uptime ("12345.67 23456.78") into whole
// seconds since boot.
func ParseProcUptime(data []byte) (int64, error) {
	fields := strings.Fields(normalizeText(data))
	if len(fields) != 2 {
		return 0, unrecognized("/proc/uptime", string(data))
	}
	f, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || f < 0 || math.IsNaN(f) || f > math.MaxInt32*100.0 {
		return 0, unrecognized("/proc/uptime", fields[0])
	}
	return int64(f), nil
}

// ParseKernelRelease parses `uname -r`: a single token such as
// "6.1.0-18-amd64" or "23.1.0".
func ParseKernelRelease(data []byte) (string, error) {
	lines := textLines(data)
	if len(lines) != 1 {
		return "", unrecognized("uname -r", string(data))
	}
	v, err := cleanValue("uname -r", lines[0])
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(v, " \t") || !strings.ContainsAny(v[:1], "0123456789") {
		return "", unrecognized("uname -r", v)
	}
	return v, nil
}

// osReleaseValues maps os-release variables to os.name, os.id and os.version.
// VERSION_ID is optional in the specification (rolling releases): then
// os.version falls back to BUILD_ID, else it is an error.
func osReleaseValues(vars map[string]string) (name, id, version string, err error) {
	name, id = vars["NAME"], vars["ID"]
	if name == "" {
		name = "Linux"
	}
	if id == "" {
		id = "linux"
	}
	version = vars["VERSION_ID"]
	if version == "" {
		version = vars["BUILD_ID"]
	}
	if version == "" {
		err = fmt.Errorf("os-release has neither VERSION_ID nor BUILD_ID")
	}
	return name, id, version, err
}

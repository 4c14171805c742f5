package collect

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WinOS is what the Windows collectors learn about the operating system.
type WinOS struct {
	Caption  string    // "Microsoft Windows 11 Enterprise"
	Version  string    // "10.0.22621"
	Build    string    // "22621"
	LastBoot time.Time // zero when unknown
}

// winOSScript selects the Win32_OperatingSystem fields with the boot time
// in the invariant round-trip format.
const winOSScript = "Get-CimInstance Win32_OperatingSystem | Select-Object Caption,Version,BuildNumber," +
	"@{n='LastBootUpTime';e={$_.LastBootUpTime.ToUniversalTime().ToString('o')}} | ConvertTo-Json"

// ParseWin32OperatingSystem parses Win32_OperatingSystem as JSON or
// Format-List (Caption, Version, BuildNumber, optional LastBootUpTime as
// ISO 8601 or "/Date(ms)/").
func ParseWin32OperatingSystem(data []byte) (WinOS, error) {
	recs, err := ParsePSObjects(data)
	if err != nil {
		return WinOS{}, err
	}
	if len(recs) != 1 {
		return WinOS{}, unrecognized("Win32_OperatingSystem", fmt.Sprintf("%d objects", len(recs)))
	}
	r := recs[0]
	os := WinOS{Caption: r["Caption"], Version: r["Version"], Build: r["BuildNumber"]}
	if !strings.HasPrefix(os.Caption, "Microsoft Windows") || !isDottedVersion(os.Version) ||
		!strings.HasSuffix(os.Version, "."+os.Build) {
		return WinOS{}, unrecognized("Win32_OperatingSystem", r["Caption"]+" "+r["Version"]+" "+r["BuildNumber"])
	}
	if b := r["LastBootUpTime"]; b != "" {
		t, err := parsePSTime(b)
		if err != nil {
			return WinOS{}, err
		}
		os.LastBoot = t
	}
	return os, nil
}

// parsePSTime reads a date from PowerShell JSON: ISO 8601 or "/Date(ms)/".
func parsePSTime(s string) (time.Time, error) {
	if inner, ok := strings.CutPrefix(s, "/Date("); ok {
		inner, _, _ = strings.Cut(inner, ")")
		end := 0
		for end < len(inner) && inner[end] >= '0' && inner[end] <= '9' {
			end++
		}
		n, err := strconv.ParseInt(inner[:end], 10, 64)
		if err != nil || end < len(inner) && inner[end] != '+' && inner[end] != '-' {
			return time.Time{}, unrecognized("PowerShell date", s)
		}
		return time.UnixMilli(n).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, unrecognized("PowerShell date", s)
	}
	return t.UTC(), nil
}

// systeminfoVersion reads the OS Version value in any locale:
// "10.0.17763 N/A Build 17763" ("N/A" is translated, "Build" is not).
func systeminfoVersion(v string) (version, build string, ok bool) {
	f := strings.Fields(v)
	if len(f) < 3 || f[len(f)-2] != "Build" {
		return "", "", false
	}
	parts := strings.Split(f[0], ".")
	if len(parts) != 3 || !isDottedVersion(f[0]) || parts[2] != f[len(f)-1] {
		return "", "", false
	}
	return f[0], parts[2], true
}

// ParseSysteminfo reads the OS name, version and build from `systeminfo`
// output in any display language: labels are localized (and may be in a
// legacy code page), so values are found by their shape. A name that is
// not UTF-8 is left empty.
func ParseSysteminfo(data []byte) (WinOS, error) {
	var os WinOS
	matches := 0
	for _, l := range textLines(data) {
		if l == "" || l[0] == ' ' {
			continue
		}
		_, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if ver, build, ok := systeminfoVersion(v); ok {
			os.Version, os.Build = ver, build
			matches++
		}
		if os.Caption == "" && strings.HasPrefix(v, "Microsoft Windows") {
			os.Caption = "-"
			if utf8.ValidString(v) {
				os.Caption = v
			}
		}
	}
	if matches != 1 || os.Caption == "" {
		return WinOS{}, unrecognized("systeminfo", "no single OS name and version")
	}
	if os.Caption == "-" {
		os.Caption = ""
	}
	return os, nil
}

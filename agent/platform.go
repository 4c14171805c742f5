package agent

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/posture/collect"
)

// Platform names the agent uses (and the server knows).
const (
	PlatformLinux   = "linux"
	PlatformMacOS   = "macos"
	PlatformWindows = "windows"
)

// NativePlatform is the platform the agent runs on.
func NativePlatform() string {
	switch runtime.GOOS {
	case "darwin":
		return PlatformMacOS
	case "windows":
		return PlatformWindows
	}
	return PlatformLinux
}

// placeholderSerials are what firmware reports when it has no serial.
var placeholderSerials = [...]string{"", "none", "not specified", "default string", "0", "system serial number",
	"to be filled by o.e.m.", "0123456789", "not applicable", "n/a"}

// cleanSerial returns s if it can be a hardware serial, else "".
func cleanSerial(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range placeholderSerials {
		if strings.EqualFold(s, p) {
			return ""
		}
	}
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return ""
		}
	}
	return s
}

// cleanLine returns the first line of s, trimmed and cut to 128 bytes of
// printable text.
func cleanLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.ToValidUTF8(s, "")
}

// DeviceInfoEnv is what device facts are read through.
type DeviceInfoEnv struct {
	Platform string
	Runner   collect.Runner
	FS       fs.FS // rooted at "/"
	Hostname func() (string, error)
	Getenv   func(string) string
}

// ReadDeviceInfo reads what the enrollment request says about the device:
// serial, model, hostname, OS version and time zone. Anything unreadable is
// left empty.
func ReadDeviceInfo(ctx context.Context, e DeviceInfoEnv) agentwire.DeviceInfo {
	info := agentwire.DeviceInfo{Platform: e.Platform}
	if h, err := e.Hostname(); err == nil {
		info.Hostname = cleanLine(h)
	}
	run := func(name string, args ...string) string {
		out, err := e.Runner.Run(ctx, name, args...)
		if err != nil {
			return ""
		}
		return string(out)
	}
	read := func(name string) string {
		b, err := fs.ReadFile(e.FS, name)
		if err != nil {
			return ""
		}
		return string(b)
	}
	switch e.Platform {
	case PlatformLinux:
		info.Serial = cleanSerial(read("sys/class/dmi/id/product_serial"))
		info.Model = cleanLine(strings.TrimSpace(read("sys/class/dmi/id/sys_vendor")) + " " + strings.TrimSpace(read("sys/class/dmi/id/product_name")))
		if vars, err := collect.ParseOSRelease([]byte(read("etc/os-release"))); err == nil {
			info.OSVersion = cleanLine(vars["PRETTY_NAME"])
		}
		info.TimeZone = linuxTimeZone(e, read)
	case PlatformMacOS:
		info.Serial = cleanSerial(ioregValue(run("ioreg", "-rd1", "-c", "IOPlatformExpertDevice"), "IOPlatformSerialNumber"))
		info.Model = cleanLine(run("sysctl", "-n", "hw.model"))
		info.OSVersion = cleanLine("macOS " + strings.TrimSpace(run("sw_vers", "-productVersion")))
		info.TimeZone = zoneFromLink(run("readlink", "/etc/localtime"))
	case PlatformWindows:
		ps := func(expr string) string {
			return cleanLine(run("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", expr))
		}
		info.Serial = cleanSerial(ps("(Get-CimInstance Win32_BIOS).SerialNumber"))
		info.Model = ps("(Get-CimInstance Win32_ComputerSystem).Model")
		info.OSVersion = ps("(Get-CimInstance Win32_OperatingSystem).Caption")
	}
	if strings.TrimSpace(info.Model) == "" {
		info.Model = ""
	}
	return info
}

// LocalTimeZone is the device's IANA time zone as Linux and macOS record
// it ($TZ, /etc/timezone, the /etc/localtime link), "" when unknown.
func LocalTimeZone(getenv func(string) string) string {
	return linuxTimeZone(DeviceInfoEnv{Getenv: getenv}, func(name string) string {
		b, err := os.ReadFile("/" + name)
		if err != nil {
			return ""
		}
		return string(b)
	})
}

// linuxTimeZone reads the IANA zone: $TZ, /etc/timezone, or the target of
// the /etc/localtime link.
func linuxTimeZone(e DeviceInfoEnv, read func(string) string) string {
	if tz := strings.TrimPrefix(e.Getenv("TZ"), ":"); validZone(tz) {
		return tz
	}
	if tz := strings.TrimSpace(read("etc/timezone")); validZone(tz) {
		return tz
	}
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		return zoneFromLink(target)
	}
	return ""
}

// zoneFromLink turns ".../zoneinfo/Europe/Paris" into "Europe/Paris".
func zoneFromLink(target string) string {
	target = strings.TrimSpace(target)
	_, zone, ok := strings.Cut(filepath.ToSlash(target), "zoneinfo/")
	if ok && validZone(zone) {
		return zone
	}
	return ""
}

func validZone(z string) bool {
	if z == "" || len(z) > 64 || strings.Contains(z, "..") {
		return false
	}
	for _, r := range z {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r)) {
			return false
		}
	}
	return true
}

// ioregValue finds `"key" = "value"` in ioreg output.
func ioregValue(out, key string) string {
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

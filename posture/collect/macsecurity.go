package collect

import (
	"strconv"
	"strings"
)

// FileVault is the output of `fdesetup status`.
type FileVault struct {
	On    bool
	State string // on, off, off-pending-restart, encrypting, decrypting
}

// ParseFdesetupStatus parses `fdesetup status`. Only "FileVault is On." is
// on; "Off" in any wording, and encryption or decryption in progress, are
// off; anything else is an error.
func ParseFdesetupStatus(data []byte) (FileVault, error) {
	head := firstLine(string(data))
	switch {
	case head == "FileVault is On.":
		return FileVault{On: true, State: "on"}, nil
	case head == "FileVault is Off." || head == "FileVault is Off":
		return FileVault{State: "off"}, nil
	case strings.HasPrefix(head, "FileVault is Off, but needs to be restarted"),
		strings.HasPrefix(head, "FileVault is Off, but will be enabled"):
		return FileVault{State: "off-pending-restart"}, nil
	case strings.HasPrefix(head, "Encryption in progress"):
		return FileVault{State: "encrypting"}, nil
	case strings.HasPrefix(head, "Decryption in progress"):
		return FileVault{State: "decrypting"}, nil
	}
	return FileVault{}, unrecognized("fdesetup status", head)
}

// ParseSocketfilterfwState parses `socketfilterfw --getglobalstate` (the
// first "Firewall is …" line, so combined outputs work too): "Firewall is
// enabled. (State = 1)" or "(State = 2)" (block all) is on, "Firewall is
// disabled. (State = 0)" is off.
func ParseSocketfilterfwState(data []byte) (bool, error) {
	for _, l := range textLines(data) {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "Firewall is enabled."):
			return true, nil
		case strings.HasPrefix(t, "Firewall is disabled."):
			return false, nil
		}
	}
	return false, unrecognized("socketfilterfw --getglobalstate", string(data))
}

// ParseDefaultsDict parses the old-style property list that `defaults read
// DOMAIN` prints ("{ key = value; … }") into its top-level scalar values.
// Nested dictionaries and arrays are skipped.
func ParseDefaultsDict(data []byte) (map[string]string, error) {
	lines := textLines(data)
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != "{" || strings.TrimSpace(lines[len(lines)-1]) != "}" {
		return nil, unrecognized("defaults read", string(data))
	}
	kv := map[string]string{}
	depth := 0
	for _, l := range lines[1 : len(lines)-1] {
		t := strings.TrimSpace(l)
		if depth > 0 {
			depth += strings.Count(t, "{") + strings.Count(t, "(") - strings.Count(t, "}") - strings.Count(t, ")")
			continue
		}
		k, v, ok := strings.Cut(t, " = ")
		if !ok {
			return nil, unrecognized("defaults read", t)
		}
		v = strings.TrimSpace(v)
		if v == "{" || v == "(" {
			depth = 1
			continue
		}
		v = strings.TrimSuffix(v, ";")
		kv[strings.Trim(k, `"`)] = strings.Trim(v, `"`)
	}
	return kv, nil
}

// ParseDefaultsValue parses `defaults read DOMAIN KEY` for a number.
func ParseDefaultsValue(data []byte) (int64, error) {
	t := strings.TrimSpace(normalizeText(data))
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f > 1<<31 {
		return 0, unrecognized("defaults read", t)
	}
	return int64(f), nil
}

// ScreensaverLock interprets com.apple.screensaver (from `defaults read`)
// and the per-host idleTime (from `defaults -currentHost read … idleTime`;
// idleKnown false when that key is not set). askForPassword must be present
// (absent means the setting lives elsewhere: unknown), 0 means no lock, and
// so does idleTime 0 (the screen saver never starts). The delay is idleTime
// plus askForPasswordDelay. An unknown idleTime is an error, not a guess.
func ScreensaverLock(dict map[string]string, idle int64, idleKnown bool) (enabled bool, delay int64, err error) {
	ask, ok := dict["askForPassword"]
	switch {
	case !ok:
		return false, 0, unrecognized("com.apple.screensaver", "no askForPassword key")
	case ask == "0":
		return false, 0, nil
	case ask != "1":
		return false, 0, unrecognized("askForPassword", ask)
	}
	if !idleKnown {
		return false, 0, unrecognized("com.apple.screensaver", "no per-host idleTime")
	}
	if idle == 0 {
		return false, 0, nil
	}
	grace := int64(0)
	if v, ok := dict["askForPasswordDelay"]; ok {
		g, err := ParseDefaultsValue([]byte(v))
		if err != nil {
			return false, 0, err
		}
		grace = g
	}
	return true, idle + grace, nil
}

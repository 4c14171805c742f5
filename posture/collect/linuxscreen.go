package collect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ParseLoginctlSessions returns the session ids of `loginctl list-sessions
// --no-legend`. Only the first column is read: the others changed between
// systemd versions.
func ParseLoginctlSessions(data []byte) ([]string, error) {
	var ids []string
	for _, l := range textLines(data) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 || !isSessionID(f[0]) {
			return nil, unrecognized("loginctl list-sessions", l)
		}
		ids = append(ids, f[0])
	}
	return ids, nil
}

func isSessionID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// isUserName accepts login names, including directory users such as
// "user@example.com", but nothing that could read as an option or a path.
func isUserName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' || r == ':' {
			return false
		}
	}
	return true
}

// ParseKeyValues parses KEY=value lines such as `loginctl show-session -p …`.
func ParseKeyValues(data []byte) (map[string]string, error) {
	kv := map[string]string{}
	for _, l := range textLines(data) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, unrecognized("key=value", l)
		}
		kv[k] = v
	}
	return kv, nil
}

// ParseGsettingsBool parses `gsettings get SCHEMA KEY` for a boolean key.
func ParseGsettingsBool(data []byte) (bool, error) {
	switch strings.TrimSpace(normalizeText(data)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, unrecognized("gsettings bool", string(data))
}

// ParseGsettingsUint parses `gsettings get SCHEMA KEY` for an unsigned key,
// printed as "uint32 300" (or a bare number).
func ParseGsettingsUint(data []byte) (int64, error) {
	t := strings.TrimSpace(normalizeText(data))
	t = strings.TrimPrefix(t, "uint32 ")
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil {
		return 0, unrecognized("gsettings uint32", t)
	}
	return int64(n), nil
}

// desktopSession is a local, active, graphical login session.
type desktopSession struct{ id, user, uid string }

// findDesktopSession asks logind for the active local graphical session.
func findDesktopSession(ctx context.Context, in Input) (desktopSession, string, error) {
	out, source, err := in.run(ctx, "loginctl", "list-sessions", "--no-legend")
	if err != nil {
		return desktopSession{}, source, err
	}
	ids, err := ParseLoginctlSessions(out)
	if err != nil {
		return desktopSession{}, source, err
	}
	for _, id := range ids {
		out, src, err := in.run(ctx, "loginctl", "show-session", id, "-p", "Type", "-p", "Name", "-p", "User", "-p", "Remote", "-p", "Active", "-p", "Class")
		if err != nil {
			return desktopSession{}, src, err
		}
		kv, err := ParseKeyValues(out)
		if err != nil {
			return desktopSession{}, src, err
		}
		graphical := kv["Type"] == "x11" || kv["Type"] == "wayland"
		if graphical && kv["Remote"] == "no" && kv["Active"] == "yes" && kv["Class"] == "user" &&
			isUserName(kv["Name"]) && isSessionID(kv["User"]) {
			return desktopSession{id: id, user: kv["Name"], uid: kv["User"]}, src, nil
		}
	}
	return desktopSession{}, source, fmt.Errorf("no local graphical session")
}

// gsettingsAs runs `gsettings get` in the desktop user's D-Bus session.
func gsettingsAs(ctx context.Context, in Input, s desktopSession, schema, key string) ([]byte, string, error) {
	return in.run(ctx, "runuser", "-u", s.user, "--", "env",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/"+s.uid+"/bus",
		"gsettings", "get", schema, key)
}

// linuxScreenlockCollector reads GNOME's lock settings for the active local
// desktop session. Without a desktop, or on another desktop, both signals
// carry an error: the agent cannot tell.
func linuxScreenlockCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		names := []string{ScreenlockEnabled, ScreenlockDelaySeconds}
		s, source, err := findDesktopSession(ctx, in)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		out, source, err := gsettingsAs(ctx, in, s, "org.gnome.desktop.screensaver", "lock-enabled")
		if err != nil {
			return in.failAll(source, err, names...)
		}
		lock, err := ParseGsettingsBool(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		out, idleSource, err := gsettingsAs(ctx, in, s, "org.gnome.desktop.session", "idle-delay")
		if err != nil {
			return in.failAll(idleSource, err, names...)
		}
		idle, err := ParseGsettingsUint(out)
		if err != nil {
			return in.failAll(idleSource, err, names...)
		}
		if !lock || idle == 0 {
			return []Signal{
				in.value(ScreenlockEnabled, source, false),
				in.failure(ScreenlockDelaySeconds, idleSource, fmt.Errorf("screen never locks by itself")),
			}
		}
		out, delaySource, err := gsettingsAs(ctx, in, s, "org.gnome.desktop.screensaver", "lock-delay")
		if err != nil {
			return []Signal{in.value(ScreenlockEnabled, source, true), in.failure(ScreenlockDelaySeconds, delaySource, err)}
		}
		delay, err := ParseGsettingsUint(out)
		if err != nil {
			return []Signal{in.value(ScreenlockEnabled, source, true), in.failure(ScreenlockDelaySeconds, delaySource, err)}
		}
		return []Signal{
			in.value(ScreenlockEnabled, source, true),
			in.value(ScreenlockDelaySeconds, idleSource+" + lock-delay", idle+delay),
		}
	}, ScreenlockEnabled, ScreenlockDelaySeconds)
}

package collect

import (
	"context"
	"errors"
	"fmt"
)

// socketfilterfw is the macOS Application Firewall's command-line tool.
const socketfilterfw = "/usr/libexec/ApplicationFirewall/socketfilterfw"

// MacOS returns the macOS collector set: sw_vers, uname, kern.boottime,
// statfs, softwareupdate, fdesetup, socketfilterfw, com.apple.screensaver,
// csrutil, spctl, profiles and system_profiler inventory.
func MacOS(env Env) *Set {
	return NewSet("macos", env,
		agentCollector(),
		macOSCollector(),
		kernelCollector(),
		macUptimeCollector(),
		diskFreeCollector("/"),
		macUpdatesCollector(),
		macFileVaultCollector(),
		macFirewallCollector(),
		macScreenlockCollector(),
		boolCollector(SIPEnabled, func(b []byte) (bool, error) {
			st, err := ParseCsrutilStatus(b)
			return st.Enabled(), err
		}, "csrutil", "status"),
		boolCollector(GatekeeperEnabled, ParseSpctlStatus, "spctl", "--status"),
		boolCollector(MDMEnrolled, func(b []byte) (bool, error) {
			m, err := ParseProfilesEnrollment(b)
			return m.Enrolled, err
		}, "profiles", "status", "-type", "enrollment"),
		macAppsCollector(),
	)
}

// boolCollector runs one command and reports one boolean signal.
func boolCollector(signal string, parse func([]byte) (bool, error), name string, args ...string) Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, name, args...)
		v, err := parseExit(out, err, parse)
		if err != nil {
			return []Signal{in.failure(signal, source, err)}
		}
		return []Signal{in.value(signal, source, v)}
	}, signal)
}

func macOSCollector() Collector {
	names := []string{OSName, OSID, OSVersion, OSBuild}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "sw_vers")
		if err != nil {
			return in.failAll(source, err, names...)
		}
		v, err := ParseSwVers(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		return []Signal{
			stringSignal(in, OSName, source, v.ProductName),
			in.value(OSID, source, "macos"),
			stringSignal(in, OSVersion, source, v.ProductVersion),
			stringSignal(in, OSBuild, source, v.BuildVersion),
		}
	}, names...)
}

func macUptimeCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "sysctl", "-n", "kern.boottime")
		if err == nil {
			boot, perr := ParseKernBoottime(out)
			if perr == nil {
				secs := int64(in.Clock().Sub(boot).Seconds())
				if secs >= 0 {
					return []Signal{in.value(UptimeSeconds, source, secs)}
				}
				perr = fmt.Errorf("boot time %s is in the future", boot)
			}
			err = perr
		}
		return []Signal{in.failure(UptimeSeconds, source, err)}
	}, UptimeSeconds)
}

func macUpdatesCollector() Collector {
	names := []string{UpdatesPending, UpdatesSecurityPending}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "softwareupdate", "--list")
		if err != nil {
			return in.failAll(source, err, names...)
		}
		ups, err := ParseSoftwareUpdateList(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		sigs := []Signal{in.value(UpdatesPending, source, int64(len(ups)))}
		vout, vsource, err := in.run(ctx, "sw_vers", "-productVersion")
		if err != nil {
			return append(sigs, in.failure(UpdatesSecurityPending, vsource, err))
		}
		n, ok := MacSecurityUpdates(ups, firstLine(string(vout)))
		if !ok {
			return append(sigs, in.failure(UpdatesSecurityPending, vsource, unrecognized("sw_vers -productVersion", string(vout))))
		}
		return append(sigs, in.value(UpdatesSecurityPending, source, int64(n)))
	}, names...)
}

func macFileVaultCollector() Collector {
	names := []string{DiskEncrypted, DiskEncryptionMethod}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "fdesetup", "status")
		if err != nil {
			return in.failAll(source, err, names...)
		}
		fv, err := ParseFdesetupStatus(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		method := "none"
		if fv.State != "off" {
			method = "filevault"
		}
		return []Signal{in.value(DiskEncrypted, source, fv.On), in.value(DiskEncryptionMethod, source, method)}
	}, names...)
}

func macFirewallCollector() Collector {
	names := []string{FirewallEnabled, FirewallProduct}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, socketfilterfw, "--getglobalstate")
		v, err := parseExit(out, err, ParseSocketfilterfwState)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		return []Signal{in.value(FirewallEnabled, source, v), in.value(FirewallProduct, source, "macOS Application Firewall")}
	}, names...)
}

// macScreenlockCollector reads com.apple.screensaver. The agent runs as
// root, so on releases that keep these keys per user this reads root's
// domain; a missing key is reported as an error, never as "locked".
func macScreenlockCollector() Collector {
	names := []string{ScreenlockEnabled, ScreenlockDelaySeconds}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "defaults", "read", "com.apple.screensaver")
		if err != nil {
			return in.failAll(source, err, names...)
		}
		dict, err := ParseDefaultsDict(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		iout, isource, ierr := in.run(ctx, "defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime")
		idle, idleKnown := int64(0), false
		var ce *CommandError
		switch {
		case ierr == nil:
			if idle, ierr = ParseDefaultsValue(iout); ierr != nil {
				return in.failAll(isource, ierr, names...)
			}
			idleKnown = true
		case errors.As(ierr, &ce) && ce.ExitCode == 1:
			// "The domain/default pair … does not exist": not set.
		default:
			return in.failAll(isource, ierr, names...)
		}
		enabled, delay, err := ScreensaverLock(dict, idle, idleKnown)
		source += " + " + isource
		if err != nil {
			return in.failAll(source, err, names...)
		}
		if !enabled {
			return []Signal{in.value(ScreenlockEnabled, source, false), in.failure(ScreenlockDelaySeconds, source, fmt.Errorf("screen never locks by itself"))}
		}
		return []Signal{in.value(ScreenlockEnabled, source, true), in.value(ScreenlockDelaySeconds, source, delay)}
	}, names...)
}

func macAppsCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "system_profiler", "SPApplicationsDataType", "-json")
		if err == nil {
			var apps []App
			if apps, err = ParseSystemProfilerApps(out); err == nil {
				return []Signal{in.value(AppsInstalled, source, apps)}
			}
		}
		return []Signal{in.failure(AppsInstalled, source, err)}
	}, AppsInstalled)
}

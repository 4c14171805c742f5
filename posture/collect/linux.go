package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Linux returns the Linux collector set: os-release, uname, /proc/uptime,
// statfs, apt/dnf/yum/zypper, lsblk + sysfs/cryptsetup, firewalld/ufw/
// nftables, GNOME screen lock, mokutil/efivars and dpkg/rpm inventory.
func Linux(env Env) *Set {
	return NewSet("linux", env,
		agentCollector(),
		linuxOSCollector(),
		kernelCollector(),
		linuxUptimeCollector(),
		diskFreeCollector("/"),
		linuxUpdatesCollector(),
		linuxDiskCollector(),
		linuxFirewallCollector(),
		linuxScreenlockCollector(),
		linuxSecureBootCollector(),
		linuxAppsCollector(),
	)
}

func linuxOSCollector() Collector {
	names := []string{OSName, OSID, OSVersion}
	return newCollector(func(_ context.Context, in Input) []Signal {
		data, source, err := in.read("etc/os-release")
		if errors.Is(err, ErrNotAvailable) {
			data, source, err = in.read("usr/lib/os-release")
		}
		if err != nil {
			return in.failAll(source, err, names...)
		}
		vars, err := ParseOSRelease(data)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		name, id, version, verr := osReleaseValues(vars)
		out := []Signal{stringSignal(in, OSName, source, name), stringSignal(in, OSID, source, id)}
		if verr != nil {
			return append(out, in.failure(OSVersion, source, verr))
		}
		return append(out, stringSignal(in, OSVersion, source, version))
	}, names...)
}

// stringSignal validates a string value before reporting it.
func stringSignal(in Input, name, source, v string) Signal {
	clean, err := cleanValue(name, v)
	if err != nil {
		return in.failure(name, source, err)
	}
	return in.value(name, source, clean)
}

// kernelCollector runs `uname -r` (Linux and macOS).
func kernelCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "uname", "-r")
		if err == nil {
			var v string
			if v, err = ParseKernelRelease(out); err == nil {
				return []Signal{in.value(KernelVersion, source, v)}
			}
		}
		return []Signal{in.failure(KernelVersion, source, err)}
	}, KernelVersion)
}

func linuxUptimeCollector() Collector {
	return newCollector(func(_ context.Context, in Input) []Signal {
		data, source, err := in.read("proc/uptime")
		if err == nil {
			var secs int64
			if secs, err = ParseProcUptime(data); err == nil {
				return []Signal{in.value(UptimeSeconds, source, secs)}
			}
		}
		return []Signal{in.failure(UptimeSeconds, source, err)}
	}, UptimeSeconds)
}

// updateTool is one way to list pending updates.
type updateTool struct {
	cmd   []string
	parse func([]byte) (Updates, error)
	// okExit lists non-zero exit codes that still mean a good listing.
	okExit []int
}

func linuxUpdatesCollector() Collector {
	names := []string{UpdatesPending, UpdatesSecurityPending, UpdatesSecurityOldestDays}
	tools := []updateTool{
		{cmd: []string{"apt", "list", "--upgradable"}, parse: ParseAptUpgradable},
		{cmd: []string{"dnf", "-q", "updateinfo", "list", "--security"}, parse: ParseDnfUpdateinfo},
		{cmd: []string{"yum", "-q", "updateinfo", "list", "security"}, parse: ParseDnfUpdateinfo},
		{cmd: []string{"zypper", "--non-interactive", "--no-refresh", "list-patches", "--category", "security"}, parse: ParseZypperPatches},
	}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		source := "apt/dnf/yum/zypper"
		for _, t := range tools {
			out, src, err := in.run(ctx, t.cmd[0], t.cmd[1:]...)
			if errors.Is(err, ErrNotAvailable) {
				continue
			}
			if err != nil {
				return in.failAll(src, err, names...)
			}
			u, err := t.parse(out)
			if err != nil {
				return in.failAll(src, err, names...)
			}
			return updateSignals(in, src, u)
		}
		return in.failAll(source, ErrNotAvailable, names...)
	}, names...)
}

func linuxDiskCollector() Collector {
	names := []string{DiskEncrypted, DiskEncryptionMethod, DiskEncryptionCipher}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "lsblk", "-J", "-p", "-o", "NAME,KNAME,TYPE,FSTYPE,MOUNTPOINT")
		if err != nil {
			return in.failAll(source, err, names...)
		}
		devs, err := ParseLsblk(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		root, err := FindRootEncryption(devs)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		if !root.Encrypted {
			return []Signal{
				in.value(DiskEncrypted, source, false),
				in.value(DiskEncryptionMethod, source, "none"),
				in.failure(DiskEncryptionCipher, source, fmt.Errorf("root volume %s is not encrypted", root.Device)),
			}
		}
		sigs := []Signal{in.value(DiskEncrypted, source, true)}
		if !in.Allowed.Any(DiskEncryptionMethod, DiskEncryptionCipher) {
			return sigs
		}
		method, methodSource := root.Method, source
		if root.CryptKName != "" {
			if data, src, err := in.read(dmSysfsUUIDPath(root.CryptKName)); err == nil {
				if typ, err := ParseDMUUID(data); err == nil && typ != "" {
					method, methodSource = cryptMethod(typ), src
				}
			}
		}
		st, csSource, csErr := cryptsetupStatus(ctx, in, root.CryptName)
		if csErr == nil && st.Type != "" {
			method, methodSource = cryptMethod(st.Type), csSource
		}
		sigs = append(sigs, in.value(DiskEncryptionMethod, methodSource, method))
		if csErr != nil {
			return append(sigs, in.failure(DiskEncryptionCipher, csSource, csErr))
		}
		return append(sigs, stringSignal(in, DiskEncryptionCipher, csSource, st.Cipher))
	}, names...)
}

func cryptsetupStatus(ctx context.Context, in Input, name string) (CryptStatus, string, error) {
	out, source, err := in.run(ctx, "cryptsetup", "status", name)
	if err != nil {
		return CryptStatus{}, source, err
	}
	st, err := ParseCryptsetupStatus(out)
	return st, source, err
}

// firewallAnswer is one tool's view of the firewall.
type firewallAnswer struct {
	product, source string
	enabled         bool
	err             error
}

func linuxFirewallCollector() Collector {
	names := []string{FirewallEnabled, FirewallProduct}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		answers := []firewallAnswer{
			firewallProbe(ctx, in, "firewalld", ParseFirewalldState, "firewall-cmd", "--state"),
			firewallProbe(ctx, in, "ufw", ParseUfwStatus, "ufw", "status"),
			firewallProbe(ctx, in, "nftables", func(b []byte) (bool, error) {
				s, err := ParseNftRuleset(b)
				return s.Filtering, err
			}, "nft", "-j", "list", "ruleset"),
		}
		return firewallSignals(in, answers)
	}, names...)
}

// firewallProbe asks one tool whether it filters inbound traffic.
func firewallProbe(ctx context.Context, in Input, product string, parse func([]byte) (bool, error), name string, args ...string) firewallAnswer {
	out, source, err := in.run(ctx, name, args...)
	v, err := parseExit(out, err, parse)
	return firewallAnswer{product: product, source: source, enabled: v, err: err}
}

// firewallSignals merges answers: any enabled firewall wins; otherwise a
// definite "off" from any tool is false; with no answer at all it is an
// error.
func firewallSignals(in Input, answers []firewallAnswer) []Signal {
	var off []firewallAnswer
	var errs []string
	for _, a := range answers {
		switch {
		case a.err == nil && a.enabled:
			return []Signal{in.value(FirewallEnabled, a.source, true), in.value(FirewallProduct, a.source, a.product)}
		case a.err == nil:
			off = append(off, a)
		case !errors.Is(a.err, ErrNotAvailable):
			errs = append(errs, errorText(a.err))
		}
	}
	if len(off) > 0 {
		return []Signal{in.value(FirewallEnabled, off[0].source, false), in.value(FirewallProduct, off[0].source, off[0].product)}
	}
	var sources []string
	for _, a := range answers {
		sources = append(sources, a.source)
	}
	err := error(ErrNotAvailable)
	if len(errs) > 0 {
		err = errors.New(strings.Join(errs, "; "))
	}
	return in.failAll(strings.Join(sources, "; "), err, FirewallEnabled, FirewallProduct)
}

func linuxSecureBootCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "mokutil", "--sb-state")
		if !errors.Is(err, ErrNotAvailable) {
			v, err := parseExit(out, err, ParseMokutilSBState)
			if err != nil {
				return []Signal{in.failure(SecurebootEnabled, source, err)}
			}
			return []Signal{in.value(SecurebootEnabled, source, v)}
		}
		if in.FS == nil {
			return []Signal{in.failure(SecurebootEnabled, source, ErrNotAvailable)}
		}
		if _, err := fs.Stat(in.FS, "sys/firmware/efi"); errors.Is(err, fs.ErrNotExist) {
			return []Signal{in.value(SecurebootEnabled, "/sys/firmware/efi (absent: BIOS boot)", false)}
		}
		data, source, err := in.read(efiSecureBootVar)
		if errors.Is(err, ErrNotAvailable) {
			return []Signal{in.value(SecurebootEnabled, source+" (absent)", false)}
		}
		if err == nil {
			var v bool
			if v, err = ParseEFISecureBootVar(data); err == nil {
				return []Signal{in.value(SecurebootEnabled, source, v)}
			}
		}
		return []Signal{in.failure(SecurebootEnabled, source, err)}
	}, SecurebootEnabled)
}

func linuxAppsCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.run(ctx, "dpkg-query", "-W", "-f="+dpkgFormat)
		parse := ParseDpkgQuery
		if errors.Is(err, ErrNotAvailable) {
			out, source, err = in.run(ctx, "rpm", "-qa", "--qf", rpmFormat)
			parse = ParseRpmQA
		}
		if err == nil {
			var apps []App
			if apps, err = parse(out); err == nil {
				return []Signal{in.value(AppsInstalled, source, apps)}
			}
		}
		return []Signal{in.failure(AppsInstalled, source, err)}
	}, AppsInstalled)
}

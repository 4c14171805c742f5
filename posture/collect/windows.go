package collect

import (
	"context"
	"errors"
	"fmt"
)

// systemDrive is the drive the Windows collectors inspect.
const systemDrive = `C:`

// Windows returns the Windows collector set: Win32_OperatingSystem (or
// systeminfo), GetDiskFreeSpaceEx, BitLocker (Get-BitLockerVolume or
// manage-bde), Defender and Security Center, Windows Firewall
// (Get-NetFirewallProfile or netsh), Windows Update, Confirm-SecureBootUEFI
// and the registry uninstall keys. Scripts run in Windows PowerShell with
// UTF-8 output.
func Windows(env Env) *Set {
	return NewSet("windows", env,
		agentCollector(),
		windowsOSCollector(),
		diskFreeCollector(systemDrive+`\`),
		windowsUpdatesCollector(),
		windowsBitLockerCollector(),
		windowsAntivirusCollector(),
		windowsFirewallCollector(),
		newCollector(func(ctx context.Context, in Input) []Signal {
			out, source, err := in.ps(ctx, "Confirm-SecureBootUEFI", "Confirm-SecureBootUEFI")
			v, err := parseExit(out, err, ParseConfirmSecureBootUEFI)
			if err != nil {
				return []Signal{in.failure(SecurebootEnabled, source, err)}
			}
			return []Signal{in.value(SecurebootEnabled, source, v)}
		}, SecurebootEnabled),
		windowsAppsCollector(),
	)
}

// ps runs a PowerShell script; the signal source is "powershell: label".
func (in Input) ps(ctx context.Context, label, script string) ([]byte, string, error) {
	name, args := psArgs(script)
	out, _, err := in.run(ctx, name, args...)
	return out, "powershell: " + label, err
}

func windowsOSCollector() Collector {
	names := []string{OSName, OSID, OSVersion, OSBuild, UptimeSeconds}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.ps(ctx, "Get-CimInstance Win32_OperatingSystem", winOSScript)
		var os WinOS
		if err == nil {
			os, err = ParseWin32OperatingSystem(out)
		}
		if err != nil {
			sout, ssource, serr := in.run(ctx, "systeminfo")
			if serr != nil {
				return in.failAll(source, err, names...)
			}
			if os, serr = ParseSysteminfo(sout); serr != nil {
				return in.failAll(ssource, serr, names...)
			}
			source = ssource
		}
		sigs := []Signal{
			in.value(OSID, source, "windows"),
			stringSignal(in, OSVersion, source, os.Version),
			stringSignal(in, OSBuild, source, os.Build),
		}
		if os.Caption == "" {
			sigs = append(sigs, in.failure(OSName, source, fmt.Errorf("OS name is not UTF-8 (legacy code page)")))
		} else {
			sigs = append(sigs, stringSignal(in, OSName, source, os.Caption))
		}
		if os.LastBoot.IsZero() {
			return append(sigs, in.failure(UptimeSeconds, source, fmt.Errorf("boot time not reported")))
		}
		secs := int64(in.Clock().Sub(os.LastBoot).Seconds())
		if secs < 0 {
			return append(sigs, in.failure(UptimeSeconds, source, fmt.Errorf("boot time %s is in the future", os.LastBoot)))
		}
		return append(sigs, in.value(UptimeSeconds, source, secs))
	}, names...)
}

func windowsUpdatesCollector() Collector {
	names := []string{UpdatesPending, UpdatesSecurityPending, UpdatesSecurityOldestDays}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.ps(ctx, "Windows Update search (WUA COM)", windowsUpdatesScript)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		u, err := ParseWindowsUpdates(out)
		if err != nil {
			return in.failAll(source, err, names...)
		}
		return updateSignals(in, source, u)
	}, names...)
}

func windowsBitLockerCollector() Collector {
	names := []string{DiskEncrypted, DiskEncryptionMethod, DiskEncryptionCipher}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.ps(ctx, "Get-BitLockerVolume", bitlockerScript)
		var vol BitLockerVolume
		if err == nil {
			var vols []BitLockerVolume
			if vols, err = ParseBitLockerVolumes(out); err == nil {
				vol, err = SystemVolume(vols, systemDrive)
			}
		}
		if err != nil {
			mout, msource, merr := in.run(ctx, "manage-bde", "-status", systemDrive)
			if errors.Is(merr, ErrNotAvailable) {
				return in.failAll(source, err, names...)
			}
			if merr == nil {
				vol, merr = ParseManageBDE(mout)
			}
			if merr != nil {
				return in.failAll(msource, merr, names...)
			}
			source = msource
		}
		sigs := []Signal{in.value(DiskEncrypted, source, vol.Encrypted()), in.value(DiskEncryptionMethod, source, vol.Method())}
		if c, ok := vol.Cipher(); ok {
			return append(sigs, in.value(DiskEncryptionCipher, source, c))
		}
		return append(sigs, in.failure(DiskEncryptionCipher, source, unrecognized("EncryptionMethod", vol.EncryptionMethod)))
	}, names...)
}

func windowsAntivirusCollector() Collector {
	names := []string{AntivirusRunning, AntivirusProduct, AntivirusSignaturesAgeDays}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		const defender = "Microsoft Defender Antivirus"
		out, source, err := in.ps(ctx, "Get-MpComputerStatus", defenderScript)
		var d Defender
		if err == nil {
			d, err = ParseMpComputerStatus(out)
		}
		if err == nil && d.Running() {
			sigs := []Signal{in.value(AntivirusRunning, source, true), in.value(AntivirusProduct, source, defender)}
			if d.SignatureAgeDays < 0 {
				return append(sigs, in.failure(AntivirusSignaturesAgeDays, source, fmt.Errorf("Defender reports no signature date")))
			}
			return append(sigs, in.value(AntivirusSignaturesAgeDays, source, d.SignatureAgeDays))
		}
		// Defender is off or passive: another product may be protecting.
		sout, ssource, serr := in.ps(ctx, "SecurityCenter2 AntiVirusProduct", securityCenterScript)
		if serr == nil {
			var products []AVProduct
			if products, serr = ParseSecurityCenterAV(sout); serr == nil {
				for _, p := range products {
					if p.Enabled && !isDefenderName(p.Name) {
						return []Signal{
							in.value(AntivirusRunning, ssource, true),
							in.value(AntivirusProduct, ssource, p.Name),
							in.failure(AntivirusSignaturesAgeDays, ssource, fmt.Errorf("Security Center does not report signature age")),
						}
					}
				}
			}
		}
		if err != nil {
			return in.failAll(source, err, names...)
		}
		return []Signal{
			in.value(AntivirusRunning, source, false),
			in.value(AntivirusProduct, source, defender),
			in.failure(AntivirusSignaturesAgeDays, source, fmt.Errorf("no antivirus running")),
		}
	}, names...)
}

func windowsFirewallCollector() Collector {
	names := []string{FirewallEnabled, FirewallProduct}
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.ps(ctx, "Get-NetFirewallProfile", firewallScript)
		var ps []FirewallProfile
		if err == nil {
			ps, err = ParseNetFirewallProfile(out)
		}
		if err != nil {
			nout, nsource, nerr := in.run(ctx, "netsh", "advfirewall", "show", "allprofiles", "state")
			if nerr == nil {
				ps, nerr = ParseNetshFirewall(nout)
			}
			if nerr != nil {
				return in.failAll(source, err, names...)
			}
			source = nsource
		}
		return []Signal{in.value(FirewallEnabled, source, allProfilesOn(ps)), in.value(FirewallProduct, source, "Windows Firewall")}
	}, names...)
}

func windowsAppsCollector() Collector {
	return newCollector(func(ctx context.Context, in Input) []Signal {
		out, source, err := in.ps(ctx, "registry Uninstall keys", windowsAppsScript)
		if err == nil {
			var apps []App
			if apps, err = ParseUninstallEntries(out); err == nil {
				return []Signal{in.value(AppsInstalled, source, apps)}
			}
		}
		return []Signal{in.failure(AppsInstalled, source, err)}
	}, AppsInstalled)
}

package collect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzParser seeds a parser's fuzz target with every fixture of the given
// folder and checks that it never panics, plus an optional invariant on
// successful results.
func fuzzParser[T any](f *testing.F, dir string, parse func([]byte) (T, error), check func(*testing.T, T)) {
	if dir != "" {
		for _, b := range fixtures(f, dir) {
			// Large seeds make the fuzzer spend its time minimizing them;
			// their head covers the same formats.
			if len(b) > maxSeed {
				b = b[:maxSeed]
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parse(data)
		if err == nil && check != nil {
			check(t, v)
		}
	})
}

// Fixture folders that seed the fuzz targets, and the seed size cap.
const (
	maxSeed    = 4096
	linuxDir   = "linux"
	macosDir   = "macos"
	windowsDir = "windows"
)

func checkUpdates(t *testing.T, u Updates) {
	if u.Security < -1 || u.Pending < -1 || (u.Pending >= 0 && u.Security > u.Pending) {
		t.Errorf("inconsistent counts %+v", u)
	}
}

func checkApps(t *testing.T, apps []App) {
	for _, a := range apps {
		if a.Name == "" || !utf8.ValidString(a.Name+a.Version+a.Publisher) {
			t.Errorf("bad app %+v", a)
		}
	}
}

func FuzzParseOSRelease(f *testing.F) {
	fuzzParser(f, linuxDir, ParseOSRelease, func(t *testing.T, m map[string]string) {
		if len(m) == 0 {
			t.Error("empty result without error")
		}
		osReleaseValues(m)
	})
}

func FuzzParseProcUptime(f *testing.F) {
	fuzzParser(f, linuxDir, ParseProcUptime, func(t *testing.T, n int64) {
		if n < 0 {
			t.Errorf("negative uptime %d", n)
		}
	})
}

func FuzzParseKernelRelease(f *testing.F) {
	fuzzParser(f, linuxDir, ParseKernelRelease, func(t *testing.T, s string) {
		if s == "" || strings.ContainsAny(s, " \n") || !utf8.ValidString(s) {
			t.Errorf("bad kernel %q", s)
		}
	})
}

func FuzzParseAptUpgradable(f *testing.F) {
	fuzzParser(f, linuxDir, ParseAptUpgradable, checkUpdates)
}

func FuzzParseDnfUpdateinfo(f *testing.F) {
	fuzzParser(f, linuxDir, ParseDnfUpdateinfo, checkUpdates)
}

func FuzzParseZypperPatches(f *testing.F) {
	fuzzParser(f, linuxDir, ParseZypperPatches, checkUpdates)
}

func FuzzParseLsblk(f *testing.F) {
	fuzzParser(f, linuxDir, ParseLsblk, func(t *testing.T, devs []BlockDevice) {
		r, err := FindRootEncryption(devs)
		if err == nil && r.Encrypted != (r.Method != "") {
			t.Errorf("inconsistent %+v", r)
		}
	})
}

func FuzzParseCryptsetupStatus(f *testing.F) {
	fuzzParser(f, linuxDir, ParseCryptsetupStatus, func(t *testing.T, st CryptStatus) {
		if st.Device == "" || (st.Active && st.Type == "") {
			t.Errorf("inconsistent %+v", st)
		}
		cryptMethod(st.Type)
	})
}

func FuzzParseDMUUID(f *testing.F) { fuzzParser(f, linuxDir, ParseDMUUID, nil) }

func FuzzParseUfwStatus(f *testing.F) { fuzzParser(f, linuxDir, ParseUfwStatus, nil) }

func FuzzParseFirewalldState(f *testing.F) { fuzzParser(f, linuxDir, ParseFirewalldState, nil) }

func FuzzParseNftRuleset(f *testing.F) {
	fuzzParser(f, linuxDir, ParseNftRuleset, func(t *testing.T, s NftSummary) {
		if s.Filtering && s.InputChains == 0 {
			t.Errorf("filtering without an input chain %+v", s)
		}
	})
}

func FuzzParseMokutilSBState(f *testing.F) { fuzzParser(f, linuxDir, ParseMokutilSBState, nil) }

func FuzzParseEFISecureBootVar(f *testing.F) {
	f.Add([]byte{6, 0, 0, 0, 1})
	fuzzParser(f, "", ParseEFISecureBootVar, nil)
}

func FuzzParseLoginctlSessions(f *testing.F) {
	fuzzParser(f, linuxDir, ParseLoginctlSessions, func(t *testing.T, ids []string) {
		for _, id := range ids {
			if !isSessionID(id) {
				t.Errorf("bad id %q", id)
			}
		}
	})
}

func FuzzParseKeyValues(f *testing.F) { fuzzParser(f, linuxDir, ParseKeyValues, nil) }

func FuzzParseGsettings(f *testing.F) {
	fuzzParser(f, linuxDir, func(b []byte) (int64, error) {
		ParseGsettingsBool(b)
		return ParseGsettingsUint(b)
	}, func(t *testing.T, n int64) {
		if n < 0 || n > 1<<32 {
			t.Errorf("out of range %d", n)
		}
	})
}

func FuzzParseDpkgQuery(f *testing.F) { fuzzParser(f, linuxDir, ParseDpkgQuery, checkApps) }

func FuzzParseRpmQA(f *testing.F) { fuzzParser(f, linuxDir, ParseRpmQA, checkApps) }

func FuzzParseSwVers(f *testing.F) { fuzzParser(f, macosDir, ParseSwVers, nil) }

func FuzzParseKernBoottime(f *testing.F) { fuzzParser(f, macosDir, ParseKernBoottime, nil) }

func FuzzParseCsrutilStatus(f *testing.F) {
	fuzzParser(f, macosDir, ParseCsrutilStatus, func(t *testing.T, s SIPStatus) {
		if s.Enabled() && (s.Custom || s.Status != "enabled") {
			t.Errorf("custom or non-enabled SIP reported enabled: %+v", s)
		}
	})
}

func FuzzParseSpctlStatus(f *testing.F) { fuzzParser(f, macosDir, ParseSpctlStatus, nil) }

func FuzzParseProfilesEnrollment(f *testing.F) {
	fuzzParser(f, macosDir, ParseProfilesEnrollment, func(t *testing.T, m MDMEnrollment) {
		if m.UserApproved && !m.Enrolled {
			t.Errorf("approved but not enrolled %+v", m)
		}
	})
}

func FuzzParseFdesetupStatus(f *testing.F) {
	fuzzParser(f, macosDir, ParseFdesetupStatus, func(t *testing.T, fv FileVault) {
		if fv.On != (fv.State == "on") {
			t.Errorf("inconsistent %+v", fv)
		}
	})
}

func FuzzParseSocketfilterfwState(f *testing.F) {
	fuzzParser(f, macosDir, ParseSocketfilterfwState, nil)
}

func FuzzParseDefaultsDict(f *testing.F) {
	fuzzParser(f, macosDir, ParseDefaultsDict, func(t *testing.T, m map[string]string) {
		ScreensaverLock(m, 300, true)
	})
}

func FuzzParseDefaultsValue(f *testing.F) {
	fuzzParser(f, macosDir, ParseDefaultsValue, func(t *testing.T, n int64) {
		if n < 0 {
			t.Errorf("negative %d", n)
		}
	})
}

func FuzzParseSoftwareUpdateList(f *testing.F) {
	fuzzParser(f, macosDir, ParseSoftwareUpdateList, func(t *testing.T, ups []MacUpdate) {
		if n, ok := MacSecurityUpdates(ups, "13.3"); !ok || n > len(ups) {
			t.Errorf("security %d of %d", n, len(ups))
		}
	})
}

func FuzzParseSystemProfilerApps(f *testing.F) {
	fuzzParser(f, macosDir, ParseSystemProfilerApps, checkApps)
}

func FuzzParsePSObjects(f *testing.F) { fuzzParser(f, windowsDir, ParsePSObjects, nil) }

func FuzzParseWin32OperatingSystem(f *testing.F) {
	fuzzParser(f, windowsDir, ParseWin32OperatingSystem, nil)
}

func FuzzParseSysteminfo(f *testing.F) {
	fuzzParser(f, windowsDir, ParseSysteminfo, func(t *testing.T, os WinOS) {
		if !utf8.ValidString(os.Caption) || !strings.HasSuffix(os.Version, "."+os.Build) {
			t.Errorf("bad %+v", os)
		}
	})
}

func FuzzParseBitLockerVolumes(f *testing.F) {
	fuzzParser(f, windowsDir, ParseBitLockerVolumes, func(t *testing.T, vols []BitLockerVolume) {
		for _, v := range vols {
			if v.Encrypted() && v.ProtectionStatus != "On" {
				t.Errorf("encrypted without protection %+v", v)
			}
			v.Cipher()
		}
	})
}

func FuzzParseManageBDE(f *testing.F) {
	fuzzParser(f, windowsDir, ParseManageBDE, func(t *testing.T, v BitLockerVolume) {
		if v.Encrypted() && v.ProtectionStatus != "On" {
			t.Errorf("encrypted without protection %+v", v)
		}
	})
}

func FuzzParseMpComputerStatus(f *testing.F) {
	fuzzParser(f, windowsDir, ParseMpComputerStatus, func(t *testing.T, d Defender) {
		if d.Running() && !d.RealTime {
			t.Errorf("running without real-time protection %+v", d)
		}
	})
}

func FuzzParseSecurityCenterAV(f *testing.F) { fuzzParser(f, windowsDir, ParseSecurityCenterAV, nil) }

func FuzzParseNetFirewallProfile(f *testing.F) {
	fuzzParser(f, windowsDir, ParseNetFirewallProfile, nil)
}

func FuzzParseNetshFirewall(f *testing.F) { fuzzParser(f, windowsDir, ParseNetshFirewall, nil) }

func FuzzParseWindowsUpdates(f *testing.F) {
	fuzzParser(f, windowsDir, ParseWindowsUpdates, checkUpdates)
}

func FuzzParseUninstallEntries(f *testing.F) {
	fuzzParser(f, windowsDir, ParseUninstallEntries, checkApps)
}

func FuzzNormalizeText(f *testing.F) {
	fuzzParser(f, windowsDir, func(b []byte) (string, error) { return normalizeText(b), nil }, func(t *testing.T, s string) {
		if strings.Contains(s, "\r") {
			t.Error("CR left in normalized text")
		}
	})
}

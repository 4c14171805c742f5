package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadDeviceInfoLinux(t *testing.T) {
	fsys := fstest.MapFS{
		"sys/class/dmi/id/product_serial": {Data: []byte("PF3ABC12\n")},
		"sys/class/dmi/id/sys_vendor":     {Data: []byte("LENOVO\n")},
		"sys/class/dmi/id/product_name":   {Data: []byte("21HD\n")},
		"etc/os-release":                  {Data: []byte("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n")},
		"etc/timezone":                    {Data: []byte("Europe/Paris\n")},
	}
	info := ReadDeviceInfo(context.Background(), DeviceInfoEnv{Platform: PlatformLinux, Runner: &fakeRunner{}, FS: fsys,
		Hostname: func() (string, error) { return "ada-laptop", nil }, Getenv: func(string) string { return "" }})
	if info.Serial != "PF3ABC12" || info.Model != "LENOVO 21HD" || info.OSVersion != "Debian GNU/Linux 12 (bookworm)" ||
		info.Hostname != "ada-laptop" || info.TimeZone != "Europe/Paris" || info.Platform != "linux" {
		t.Errorf("info = %+v", info)
	}
	// A VM without DMI data and a placeholder serial: empty, not garbage.
	info = ReadDeviceInfo(context.Background(), DeviceInfoEnv{Platform: PlatformLinux, Runner: &fakeRunner{},
		FS:       fstest.MapFS{"sys/class/dmi/id/product_serial": {Data: []byte("To Be Filled By O.E.M.\n")}},
		Hostname: func() (string, error) { return "", errors.New("no") }, Getenv: func(k string) string {
			if k == "TZ" {
				return ":America/New_York"
			}
			return ""
		}})
	if info.Serial != "" || info.Model != "" || info.TimeZone != "America/New_York" {
		t.Errorf("bare VM info = %+v", info)
	}
}

func TestCleanSerialAndFingerprint(t *testing.T) {
	for in, want := range map[string]string{"C02XYZ": "C02XYZ", " 5CG-1 \n": "5CG-1", "None": "", "0": "", "a b": "", "x;rm -rf": ""} {
		if got := cleanSerial(in); got != want {
			t.Errorf("cleanSerial(%q) = %q, want %q", in, got, want)
		}
	}
	if got := NormalizeFingerprint("SHA256 AB:CD:EF"); got != "abcdef" {
		t.Errorf("fingerprint = %q", got)
	}
	if got := ioregValue(`  "IOPlatformSerialNumber" = "C02ABC"`+"\n", "IOPlatformSerialNumber"); got != "C02ABC" {
		t.Errorf("ioreg = %q", got)
	}
	if got := zoneFromLink("/usr/share/zoneinfo/Europe/Paris"); got != "Europe/Paris" {
		t.Errorf("zone = %q", got)
	}
}

func TestActionCommandsNeverUseAShell(t *testing.T) {
	for _, p := range []string{PlatformLinux, PlatformMacOS, PlatformWindows} {
		if len(lockCommand(p)) == 0 {
			t.Errorf("%s: no lock command", p)
		}
		argv := messageCommand(p, "IT", `"; rm -rf / #`)
		if len(argv) == 0 || argv[0] == "sh" || argv[0] == "cmd" || !strings.Contains(argv[len(argv)-1], `rm -rf`) {
			t.Errorf("%s: message argv = %q", p, argv)
		}
	}
}

func TestJournalCompacts(t *testing.T) {
	j, err := openJournal(t.TempDir() + "/j")
	if err != nil {
		t.Fatal(err)
	}
	old := journalEntry{ID: "act_old", State: journalDone, Status: "acknowledged", At: mustTime("2020-01-01T00:00:00Z")}
	must(t, j.record(old))
	j.size = maxJournalBytes
	must(t, j.record(journalEntry{ID: "act_new", State: journalStarted, At: mustTime("2026-01-01T00:00:00Z")}))
	j2, _ := openJournal(j.path)
	if _, ok := j2.get("act_old"); ok {
		t.Error("old entry kept")
	}
	if e, ok := j2.get("act_new"); !ok || e.State != journalStarted {
		t.Error("new entry lost")
	}
}

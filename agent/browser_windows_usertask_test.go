package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestParseWindowsUsers reads the profile listing: people with a local or
// domain SID and a name; deleted accounts and service profiles are left.
func TestParseWindowsUsers(t *testing.T) {
	out, err := os.ReadFile("testdata/windows/user-profiles.txt")
	must(t, err)
	rec := &cmdRecorder{answer: func(Command) ([]byte, error) { return out, nil }}
	users, err := WindowsUsers(context.Background(), rec.run, "")
	must(t, err)
	want := []LocalUser{
		{Name: `DESKTOP-7QK2M4R\bea`, SID: "S-1-5-21-3623811015-3361044348-30300820-1001", Home: `C:\Users\bea`},
		{Name: `DESKTOP-7QK2M4R\dan`, SID: "S-1-5-21-3623811015-3361044348-30300820-1002", Home: `C:\Users\dan`},
		{Name: `CORP\ada.lovelace`, SID: "S-1-5-21-1004336348-1177238915-682003330-512", Home: `C:\Users\ada.lovelace`},
	}
	if !slices.Equal(users, want) {
		t.Errorf("users = %+v", users)
	}
	if got := rec.lines(); len(got) != 1 || got[0] != "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "+windowsUsersScript {
		t.Errorf("commands = %q", got)
	}
}

// TestWindowsUserTaskStore: the service locks a directory per person to
// SYSTEM and that person, asks there for a key of the person's own (no
// key and no PFX of the service's is left there), and registers and
// starts a logon task that runs `agent browser-import` as the person.
func TestWindowsUserTaskStore(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 200, t.TempDir(), "https://portier.example.com")
	id.DeviceID = "dev_0123456789abcdef0123"
	bea := LocalUser{Name: `DESKTOP-7QK2M4R\bea`, SID: "S-1-5-21-3623811015-3361044348-30300820-1001", Home: `C:\Users\bea`}
	id.Users = []LocalUser{bea, {Name: "evil'name", SID: "S-1-5-21-1-2-3-4"}, {Name: "svc", SID: "S-1-5-80-1"}}
	root := t.TempDir()
	svc := &fakeService{}
	rec := &cmdRecorder{answer: func(c Command) ([]byte, error) { return svc.run(context.Background(), c) }}
	s := &WindowsUserTaskStore{Run: rec.run, Exe: `C:\Program Files\Portier\portier.exe`, Root: root}
	ps, err := s.Install(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), `"evil'name"`) || !strings.Contains(err.Error(), `"svc"`) {
		t.Errorf("accounts this store cannot serve were not refused: %v", err)
	}
	dir := filepath.Join(root, bea.SID)
	if len(ps) != 1 || ps[0].Store != StoreWindowsUserTask || ps[0].SID != bea.SID || ps[0].Path != dir || ps[0].Thumbprint != "" ||
		!slices.Equal(ps[0].Entries, []string{`\Portier\BrowserIdentity-` + bea.SID}) {
		t.Fatalf("placements = %+v", ps)
	}
	const pre = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "
	task := `-TaskPath '\Portier\' -TaskName 'BrowserIdentity-` + bea.SID + `'`
	want := []string{
		pre + "$ErrorActionPreference='Stop'; & icacls.exe '" + root + "' /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null; " +
			"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; 'locked'",
		pre + "$ErrorActionPreference='Stop'; & icacls.exe '" + dir + "' /setowner '*S-1-5-18' | Out-Null; if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; " +
			"& icacls.exe '" + dir + "' /reset | Out-Null; if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; " +
			"& icacls.exe '" + dir + "' /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*" + bea.SID + ":(OI)(CI)M' | Out-Null; " +
			"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; 'locked'",
		pre + "$ErrorActionPreference='Stop'; $a = New-ScheduledTaskAction -Execute 'C:\\Program Files\\Portier\\portier.exe' -Argument 'agent browser-import --dir \"" + dir + "\"'; " +
			`$t = New-ScheduledTaskTrigger -AtLogOn -User 'DESKTOP-7QK2M4R\bea'; ` +
			`$p = New-ScheduledTaskPrincipal -UserId 'DESKTOP-7QK2M4R\bea' -LogonType Interactive -RunLevel Limited; ` +
			"Register-ScheduledTask " + task + " -Action $a -Trigger $t -Principal $p -Force | Out-Null; " +
			"Start-ScheduledTask " + task + " -ErrorAction SilentlyContinue; 'registered'",
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b, err := os.ReadFile(filepath.Join(dir, userRequestFile))
	must(t, err)
	if string(b) != `{"device_id":"dev_0123456789abcdef0123"}` {
		t.Errorf("request.json = %s", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the person's directory holds more than the request: %v", entries)
	}
	// Status says the key waits for the person's logon.
	if got := readUserImports(&BrowserRecord{Placements: ps}); len(got) != 1 || got[0].User != bea.Name || got[0].Imported || got[0].Waiting != "logon" {
		t.Errorf("status before the task ran = %+v", got)
	}

	// Removal: the request is withdrawn, an order left, the task started.
	rec.cmds = nil
	must(t, s.Remove(context.Background(), ps[0]))
	if got := rec.lines(); !slices.Equal(got, []string{pre + "Start-ScheduledTask " + task + " -ErrorAction SilentlyContinue; 'ordered'"}) {
		t.Errorf("remove commands = %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, userRemoveFile)); err != nil || string(b) != `[["installed"]]` {
		t.Errorf("remove.json = %s, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, userRequestFile)); !os.IsNotExist(err) {
		t.Errorf("the request is still there: %v", err)
	}
	// A placement pointing outside the store's root, or at another
	// person's directory, is refused.
	for _, bad := range []Placement{
		{Store: StoreWindowsUserTask, SID: bea.SID, Path: t.TempDir()},
		{Store: StoreWindowsUserTask, SID: bea.SID, Path: filepath.Join(root, "S-1-5-21-1-2-3-1002")},
		{Store: StoreWindowsUserTask, SID: "..", Path: root},
	} {
		if err := s.Remove(context.Background(), bad); err == nil {
			t.Errorf("the placement %+v was accepted", bad)
		}
	}
}

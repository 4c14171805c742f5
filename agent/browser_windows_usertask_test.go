package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
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
// SYSTEM and that person, leaves the identity there, and registers and
// starts a logon task that runs `agent browser-import` as the person; the
// person's import puts the key non-exportable into their store and
// deletes the file; removal is an order the next run carries out.
func TestWindowsUserTaskStore(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 200, t.TempDir(), "https://portier.example.com")
	bea := LocalUser{Name: `DESKTOP-7QK2M4R\bea`, SID: "S-1-5-21-3623811015-3361044348-30300820-1001", Home: `C:\Users\bea`}
	id.Users = []LocalUser{bea, {Name: "evil'name", SID: "S-1-5-21-1-2-3-4"}, {Name: "svc", SID: "S-1-5-80-1"}}
	root := t.TempDir()
	rec := &cmdRecorder{answer: func(c Command) ([]byte, error) {
		s := c.Args[len(c.Args)-1]
		switch {
		case strings.Contains(s, "icacls"):
			return []byte("locked\r\n"), nil
		case strings.Contains(s, "Register-ScheduledTask"):
			return []byte("registered\r\n"), nil
		}
		return []byte("ordered\r\n"), nil
	}}
	s := &WindowsUserTaskStore{Run: rec.run, Exe: `C:\Program Files\Portier\portier.exe`, Root: root}
	ps, err := s.Install(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), `"evil'name"`) || !strings.Contains(err.Error(), `"svc"`) {
		t.Errorf("accounts this store cannot serve were not refused: %v", err)
	}
	dir := filepath.Join(root, bea.SID)
	thumb := Thumbprint(id.Leaf)
	if len(ps) != 1 || ps[0].Store != StoreWindowsUserTask || ps[0].SID != bea.SID || ps[0].Path != dir || ps[0].Thumbprint != thumb ||
		!slices.Equal(ps[0].CAThumbprints, []string{Thumbprint(ti.ca)}) || !slices.Equal(ps[0].Entries, []string{`\Portier\BrowserIdentity-` + bea.SID}) {
		t.Fatalf("placements = %+v", ps)
	}
	const pre = "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "
	task := `-TaskPath '\Portier\' -TaskName 'BrowserIdentity-` + bea.SID + `'`
	want := []string{
		pre + "$ErrorActionPreference='Stop'; & icacls.exe '" + dir + "' /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*" + bea.SID + ":(OI)(CI)M' | Out-Null; " +
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
	pw, err := os.ReadFile(filepath.Join(dir, userPasswordFile))
	must(t, err)
	pfx, err := os.ReadFile(filepath.Join(dir, userPFXFile))
	must(t, err)
	if _, leaf, _, err := pkcs12.DecodeChain(pfx, string(pw)); err != nil || !leaf.Equal(id.Leaf) {
		t.Fatalf("the person's PFX does not hold the identity: %v", err)
	}

	// Status says the identity waits for the person's logon.
	rec2 := &BrowserRecord{Placements: ps}
	if got := readUserImports(rec2); len(got) != 1 || got[0].User != bea.Name || got[0].Thumbprint != thumb || got[0].Imported {
		t.Errorf("status before the task ran = %+v", got)
	}

	// The person's task: imports into Cert:\CurrentUser\My, deletes the
	// PFX and its password, records the thumbprint.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("USERPROFILE", os.Getenv("HOME"))
	inStore := false
	user := &cmdRecorder{answer: func(c Command) ([]byte, error) {
		s := c.Args[len(c.Args)-1]
		switch {
		case strings.Contains(s, "Import-PfxCertificate"):
			if !strings.Contains(s, "-CertStoreLocation Cert:\\CurrentUser\\My") || strings.Contains(s, "Exportable") {
				t.Errorf("import script %s", s)
			}
			inStore = true
		case strings.Contains(s, "Remove-Item"):
			if !strings.Contains(s, "'Cert:\\CurrentUser\\My\\"+thumb+"') { Remove-Item -LiteralPath 'Cert:\\CurrentUser\\My\\"+thumb+"' -DeleteKey }") {
				t.Errorf("remove script %s", s)
			}
			inStore = false
		}
		if inStore {
			return []byte("True\r\n"), nil
		}
		return []byte("False\r\n"), nil
	}}
	res, err := ImportForUser(context.Background(), dir, user.run)
	if err != nil || res.Imported != thumb {
		t.Fatalf("import = %+v, %v", res, err)
	}
	for _, f := range []string{userPFXFile, userPasswordFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after the import: %v", f, err)
		}
	}
	var done UserImport
	b, err := os.ReadFile(filepath.Join(dir, userDoneFile))
	must(t, err)
	must(t, json.Unmarshal(b, &done))
	if done.Imported != thumb {
		t.Errorf("imported.json = %s", b)
	}
	if got := readUserImports(rec2); len(got) != 1 || !got[0].Imported || len(got[0].Errors) != 0 {
		t.Errorf("status after the task ran = %+v", got)
	}

	// Removal: an order, and the task started.
	rec.cmds = nil
	must(t, s.Remove(context.Background(), ps[0]))
	if got := rec.lines(); !slices.Equal(got, []string{pre + "Start-ScheduledTask " + task + " -ErrorAction SilentlyContinue; 'ordered'"}) {
		t.Errorf("remove commands = %q", got)
	}
	res, err = ImportForUser(context.Background(), dir, user.run)
	if err != nil || !slices.Equal(res.Removed, []string{thumb}) || res.Imported != "" || inStore {
		t.Fatalf("removal run = %+v, %v (still in the store: %v)", res, err, inStore)
	}
	if _, err := os.Stat(filepath.Join(dir, userRemoveFile)); !os.IsNotExist(err) {
		t.Errorf("the carried-out order is still there: %v", err)
	}
	// A placement pointing outside the store's root is refused.
	bad := ps[0]
	bad.Path = t.TempDir()
	if err := s.Remove(context.Background(), bad); err == nil {
		t.Error("a placement outside the root was accepted")
	}
}

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// StoreWindowsUserTask is the store name of the per-person import that
// the Windows service hands to a scheduled task.
const StoreWindowsUserTask = "windows-user-task"

// The Windows service runs as LocalSystem, but the browsers read each
// person's Cert:\CurrentUser\My, which only a process running as that
// person can write. WindowsUserTaskStore bridges the two: for each person
// with a profile on the machine it puts the identity (a PFX and its
// one-time password) in a directory only SYSTEM and that person can read,
// and registers a scheduled task that runs `portier agent browser-import`
// as the person at each of their logons (and at once when they are logged
// on). That command (ImportForUser) imports the identity with
// WindowsCertStore, deletes the PFX and records what it did. Removal is an
// order in the same directory that the task carries out the same way.

// Files of a person's import directory.
const (
	userPFXFile      = "identity.pfx"
	userPasswordFile = "identity.password"
	userRemoveFile   = "remove.json"   // thumbprints to remove: [leaf, intermediates...] lists
	userDoneFile     = "imported.json" // what the person's task did last
)

// windowsTaskPath is the Task Scheduler folder of the agent's tasks.
const windowsTaskPath = `\Portier\`

// WindowsUserTaskStore is the LocalSystem service's way into each
// person's certificate store (see above).
type WindowsUserTaskStore struct {
	// Run runs powershell.exe.
	Run CommandRunner
	// PowerShell is the tool (default powershell.exe).
	PowerShell string
	// Exe is the agent binary the task runs (default os.Executable()).
	Exe string
	// Root holds one directory per person, named by their SID.
	Root string
}

var _ BrowserStore = (*WindowsUserTaskStore)(nil)

// Name is "windows-user-task".
func (s *WindowsUserTaskStore) Name() string { return StoreWindowsUserTask }

// sidPattern accepts the SIDs of local and domain accounts (S-1-5-21-…).
var sidPattern = regexp.MustCompile(`^S-1-5-21(-[0-9]{1,10}){1,8}$`)

// taskName is the scheduled task of the person with sid.
func taskName(sid string) string { return "BrowserIdentity-" + sid }

func (s *WindowsUserTaskStore) ps(script string) Command {
	return (&WindowsCertStore{PowerShell: s.PowerShell}).ps(script)
}

// Install hands the identity to each person's task.
func (s *WindowsUserTaskStore) Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error) {
	if len(id.Users) == 0 {
		return nil, errNoUsers
	}
	exe := s.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	password, pfx, err := encodeLegacyP12(id)
	if err != nil {
		return nil, err
	}
	var out []Placement
	var errs []error
	for _, u := range id.Users {
		if !sidPattern.MatchString(u.SID) || strings.ContainsAny(u.Name, "'\"\r\n") {
			errs = append(errs, fmt.Errorf("agent: %q (SID %q) is not a person's account this store can serve", u.Name, u.SID))
			continue
		}
		dir := filepath.Join(s.Root, u.SID)
		p := Placement{Store: s.Name(), User: u.Name, SID: u.SID, Home: u.Home, Path: dir,
			Serial: id.Leaf.SerialNumber.String(), Thumbprint: Thumbprint(id.Leaf), Entries: []string{windowsTaskPath + taskName(u.SID)}}
		for _, c := range id.Intermediates {
			p.CAThumbprints = append(p.CAThumbprints, Thumbprint(c))
		}
		if err := s.handOver(ctx, exe, dir, u, pfx, password); err != nil {
			errs = append(errs, fmt.Errorf("agent: hand the device identity to %s's logon task: %w", u.Name, err))
		}
		out = append(out, p) // recorded also on failure, so it is cleaned
	}
	return out, errors.Join(errs...)
}

// handOver writes the person's files and registers and starts their task.
// The directory is locked to SYSTEM and the person before the key goes in.
func (s *WindowsUserTaskStore) handOver(ctx context.Context, exe, dir string, u LocalUser, pfx []byte, password string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The person may change the directory: their task deletes the PFX and
	// writes imported.json there.
	script := "$ErrorActionPreference='Stop'; " +
		"& icacls.exe " + psQuote(dir) + " /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' " + psQuote("*"+u.SID+":(OI)(CI)M") + " | Out-Null; " +
		"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; 'locked'"
	if out, err := s.Run(ctx, s.ps(script)); err != nil || lastLine(out) != "locked" {
		return fmt.Errorf("lock %s: %v: %s", dir, err, trimOut(out))
	}
	if err := writeFileAtomic(filepath.Join(dir, userPasswordFile), []byte(password), 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, userPFXFile), pfx, 0o600); err != nil {
		return err
	}
	arg := `agent browser-import --dir "` + dir + `"`
	script = "$ErrorActionPreference='Stop'; " +
		"$a = New-ScheduledTaskAction -Execute " + psQuote(exe) + " -Argument " + psQuote(arg) + "; " +
		"$t = New-ScheduledTaskTrigger -AtLogOn -User " + psQuote(u.Name) + "; " +
		"$p = New-ScheduledTaskPrincipal -UserId " + psQuote(u.Name) + " -LogonType Interactive -RunLevel Limited; " +
		"Register-ScheduledTask -TaskPath " + psQuote(windowsTaskPath) + " -TaskName " + psQuote(taskName(u.SID)) +
		" -Action $a -Trigger $t -Principal $p -Force | Out-Null; " +
		// Runs now only if the person is logged on; otherwise at their logon.
		"Start-ScheduledTask -TaskPath " + psQuote(windowsTaskPath) + " -TaskName " + psQuote(taskName(u.SID)) + " -ErrorAction SilentlyContinue; " +
		"'registered'"
	if out, err := s.Run(ctx, s.ps(script)); err != nil || lastLine(out) != "registered" {
		return fmt.Errorf("register the task: %v: %s", err, trimOut(out))
	}
	return nil
}

// Remove takes the identity back from the person's directory and orders
// their task to delete the certificate, its key and the intermediates,
// then starts the task (it runs at once when they are logged on, else at
// their next logon). The task stays registered for the next identity.
func (s *WindowsUserTaskStore) Remove(ctx context.Context, p Placement) error {
	if !sidPattern.MatchString(p.SID) || filepath.Clean(p.Path) != filepath.Join(s.Root, p.SID) || !validThumbprint(p.Thumbprint) {
		return fmt.Errorf("agent: the placement %s is not one of this store's", p.Path)
	}
	for _, f := range []string{userPFXFile, userPasswordFile} {
		if err := os.Remove(filepath.Join(p.Path, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	var order [][]string
	if b, err := os.ReadFile(filepath.Join(p.Path, userRemoveFile)); err == nil {
		_ = json.Unmarshal(b, &order) // a damaged order is replaced
	}
	order = append(order, append([]string{p.Thumbprint}, p.CAThumbprints...))
	b, _ := json.Marshal(order)
	if err := writeFileAtomic(filepath.Join(p.Path, userRemoveFile), b, 0o600); err != nil {
		return err
	}
	script := "Start-ScheduledTask -TaskPath " + psQuote(windowsTaskPath) + " -TaskName " + psQuote(taskName(p.SID)) + " -ErrorAction SilentlyContinue; 'ordered'"
	if out, err := s.Run(ctx, s.ps(script)); err != nil || lastLine(out) != "ordered" {
		return fmt.Errorf("agent: start %s's task to remove the device identity: %v: %s", p.User, err, trimOut(out))
	}
	return nil
}

// UserImport is what a person's task did last (imported.json).
type UserImport struct {
	Imported string   `json:"imported,omitempty"` // thumbprint now in Cert:\CurrentUser\My
	Removed  []string `json:"removed,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// ImportForUser is `portier agent browser-import`, run by the person's
// scheduled task as the person: it carries out the removal order, imports
// the identity waiting in dir into Cert:\CurrentUser\My (non-exportable),
// deletes the PFX and its password, and records what it did.
func ImportForUser(ctx context.Context, dir string, run CommandRunner) (*UserImport, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	if IsSystemProfile(home) {
		return nil, errors.New("agent: browser-import runs as a person, not as a service account")
	}
	store := &WindowsCertStore{Run: run}
	res := &UserImport{}
	var order [][]string
	damaged := false
	if b, err := os.ReadFile(filepath.Join(dir, userRemoveFile)); err == nil {
		if err := json.Unmarshal(b, &order); err != nil {
			// Kept for the service, which replaces it with its next order.
			res.Errors = append(res.Errors, "the removal order is damaged: "+err.Error())
			damaged = true
		}
	}
	var left [][]string
	for _, thumbs := range order {
		if len(thumbs) == 0 || !validThumbprint(thumbs[0]) {
			continue
		}
		p := Placement{Store: StoreWindowsCert, AsAgent: true, Home: home, Path: windowsCertPath, Thumbprint: thumbs[0], CAThumbprints: thumbs[1:]}
		if err := store.Remove(ctx, p); err != nil {
			res.Errors = append(res.Errors, err.Error())
			left = append(left, thumbs)
			continue
		}
		res.Removed = append(res.Removed, thumbs[0])
	}
	if len(left) == 0 && !damaged {
		if err := os.Remove(filepath.Join(dir, userRemoveFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			res.Errors = append(res.Errors, err.Error())
		}
	} else if b, err := json.Marshal(left); err == nil {
		_ = writeFileAtomic(filepath.Join(dir, userRemoveFile), b, 0o600)
	}
	pfxPath, pwPath := filepath.Join(dir, userPFXFile), filepath.Join(dir, userPasswordFile)
	if pfx, err := os.ReadFile(pfxPath); err == nil {
		thumb, err := pfxThumbprint(pfx, pwPath)
		if err == nil {
			err = store.importFiles(ctx, pfxPath, pwPath, thumb)
		}
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		} else {
			res.Imported = thumb
			// Imported: the key is now non-exportable in the store; the
			// exportable file must not stay behind.
			_ = os.Remove(pfxPath)
			_ = os.Remove(pwPath)
		}
	}
	res.Removed = slices.Compact(res.Removed)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, userDoneFile), append(b, '\n'), 0o600); err != nil {
		return res, err
	}
	if len(res.Errors) > 0 {
		return res, fmt.Errorf("agent: %s", strings.Join(res.Errors, "; "))
	}
	return res, nil
}

// pfxThumbprint reads the device certificate's thumbprint from a PFX
// whose password is in the file pwPath.
func pfxThumbprint(pfx []byte, pwPath string) (string, error) {
	pw, err := os.ReadFile(pwPath)
	if err != nil {
		return "", err
	}
	_, leaf, _, err := pkcs12.DecodeChain(pfx, strings.TrimSpace(string(pw)))
	if err != nil {
		return "", fmt.Errorf("the identity file cannot be read: %w", err)
	}
	return Thumbprint(leaf), nil
}

// windowsUsersScript lists the people's profiles: SID, account name and
// profile path, one per line, separated by '|'. Special (service)
// profiles are left out; a SID without a name (a deleted account) gets
// an empty name.
const windowsUsersScript = "Get-CimInstance Win32_UserProfile -Filter 'Special=False' | ForEach-Object { " +
	"$n = ''; try { $n = ([System.Security.Principal.SecurityIdentifier]$_.SID).Translate([System.Security.Principal.NTAccount]).Value } catch {}; " +
	"'{0}|{1}|{2}' -f $_.SID, $n, $_.LocalPath }"

// WindowsUsers lists the people with a profile on the machine: accounts
// with a local or domain SID (S-1-5-21-…) and a name, for the service's
// WindowsUserTaskStore.
func WindowsUsers(ctx context.Context, run CommandRunner, powershell string) ([]LocalUser, error) {
	out, err := run(ctx, (&WindowsCertStore{PowerShell: powershell}).ps(windowsUsersScript))
	if err != nil {
		return nil, fmt.Errorf("agent: list the user profiles: %w: %s", err, trimOut(out))
	}
	return ParseWindowsUsers(out), nil
}

// ParseWindowsUsers reads windowsUsersScript's output.
func ParseWindowsUsers(out []byte) []LocalUser {
	var users []LocalUser
	for _, line := range strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) != 3 || !sidPattern.MatchString(f[0]) || f[1] == "" || f[2] == "" || strings.ContainsAny(f[1], "'\"") {
			continue
		}
		users = append(users, LocalUser{Name: f[1], SID: f[0], Home: f[2]})
	}
	return users
}

// WindowsUserImportRoot is where the service keeps each person's import
// directory: %ProgramData%\Portier\Users (outside the state directory,
// which only SYSTEM and Administrators may enter).
func WindowsUserImportRoot() string {
	if pd := os.Getenv("ProgramData"); pd != "" {
		return filepath.Join(pd, "Portier", "Users")
	}
	return `C:\ProgramData\Portier\Users`
}

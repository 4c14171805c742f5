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
	"time"

	"github.com/portier/portier/agentwire"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// StoreWindowsUserTask is the store name of the per-person import that
// the Windows service hands to a scheduled task.
const StoreWindowsUserTask = "windows-user-task"

// The Windows service runs as LocalSystem, but the browsers read each
// person's Cert:\CurrentUser\My, which only a process running as that
// person can write. WindowsUserTaskStore bridges the two: for each person
// with a profile on the machine it locks a directory to SYSTEM and that
// person, asks there for a key of the person's own (request.json, see
// browser_windows_personkey.go), and registers a scheduled task that runs
// `portier agent browser-import` as the person at each of their logons,
// and at once when they are logged on. That command
// (ImportForUser) makes the key and its CSR in the person's key storage;
// the service has the CSR signed (ServeRequests) and the next run of the
// task installs the certificate on the key. Removal is an order in the
// same directory that the task carries out the same way.
//
// Fallback: a server that does not issue browser certificates (it answers
// 404 to POST /api/v1/agent/browser-certificates: older than agent
// protocol 1.2) gets the old hand-over instead: the device's own identity
// as a PFX and its one-time password in the directory, which the task
// imports non-exportable and deletes.

// Files of a person's import directory.
const (
	userPFXFile      = "identity.pfx"
	userPasswordFile = "identity.password"
	userRemoveFile   = "remove.json"   // thumbprints to remove: [leaf, intermediates...] lists, or ["installed"]
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

	// renewKicks is when the service last started a person's task
	// because their certificate was due for renewal (by SID).
	renewKicks map[string]time.Time
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

// Install asks each person's task for a key of the person's own.
func (s *WindowsUserTaskStore) Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error) {
	if len(id.Users) == 0 {
		return nil, errNoUsers
	}
	if !deviceIDPattern.MatchString(id.DeviceID) {
		return nil, fmt.Errorf("agent: the device id %q cannot name a person's key", id.DeviceID)
	}
	exe := s.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	req, _ := json.Marshal(PersonKeyRequest{DeviceID: id.DeviceID})
	if err := s.lockRoot(ctx); err != nil {
		return nil, fmt.Errorf("agent: lock %s: %w", s.Root, err)
	}
	var out []Placement
	var errs []error
	for _, u := range id.Users {
		if !sidPattern.MatchString(u.SID) || strings.ContainsAny(u.Name, "'\"\r\n") {
			errs = append(errs, fmt.Errorf("agent: %q (SID %q) is not a person's account this store can serve", u.Name, u.SID))
			continue
		}
		dir := filepath.Join(s.Root, u.SID)
		// No thumbprint: the certificate is the person's own, made later;
		// the task records it (imported.json) and removes it on order.
		p := Placement{Store: s.Name(), User: u.Name, SID: u.SID, Home: u.Home, Path: dir, Entries: []string{windowsTaskPath + taskName(u.SID)}}
		err := s.lock(ctx, dir, u)
		if err == nil {
			err = writeFileAtomic(filepath.Join(dir, userRequestFile), req, 0o600)
		}
		if err == nil {
			err = s.register(ctx, exe, dir, u)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("agent: ask %s's logon task for a browser key: %w", u.Name, err))
		}
		out = append(out, p) // recorded also on failure, so it is cleaned
	}
	return out, errors.Join(errs...)
}

// lockRoot makes Root SYSTEM's and the Administrators' only, so that no
// person can make a directory there (one named after another person's
// SID, say) before the service does.
func (s *WindowsUserTaskStore) lockRoot(ctx context.Context) error {
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return err
	}
	script := "$ErrorActionPreference='Stop'; " +
		"& icacls.exe " + psQuote(s.Root) + " /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' | Out-Null; " +
		"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; 'locked'"
	if out, err := s.Run(ctx, s.ps(script)); err != nil || lastLine(out) != "locked" {
		return fmt.Errorf("%v: %s", err, trimOut(out))
	}
	return nil
}

// lock makes dir, owned by SYSTEM, which only SYSTEM and the person may
// enter. The person may change what is in it: their task writes its
// request and its record there.
func (s *WindowsUserTaskStore) lock(ctx context.Context, dir string, u LocalUser) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !plainDir(dir) {
		return fmt.Errorf("%s is a link, not a directory", dir)
	}
	script := "$ErrorActionPreference='Stop'; " +
		"& icacls.exe " + psQuote(dir) + " /setowner '*S-1-5-18' | Out-Null; " +
		"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; " +
		"& icacls.exe " + psQuote(dir) + " /reset | Out-Null; " +
		"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; " +
		"& icacls.exe " + psQuote(dir) + " /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' " + psQuote("*"+u.SID+":(OI)(CI)M") + " | Out-Null; " +
		"if ($LASTEXITCODE -ne 0) { throw 'icacls failed' }; 'locked'"
	if out, err := s.Run(ctx, s.ps(script)); err != nil || lastLine(out) != "locked" {
		return fmt.Errorf("lock %s: %v: %s", dir, err, trimOut(out))
	}
	return nil
}

// register registers and starts the person's task: at each logon (the
// service starts it too, when it has something for it); it runs only
// while the person is logged on.
func (s *WindowsUserTaskStore) register(ctx context.Context, exe, dir string, u LocalUser) error {
	arg := `agent browser-import --dir "` + dir + `"`
	script := "$ErrorActionPreference='Stop'; " +
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

// handOverPFX is the fallback for a server without browser certificates:
// the device's own identity, as a PFX, and its one-time password.
func (s *WindowsUserTaskStore) handOverPFX(dir string, id *BrowserIdentity) error {
	password, pfx, err := encodeLegacyP12(id)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, userPasswordFile), []byte(password), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, userPFXFile), pfx, 0o600)
}

// startTask starts the person's task (it runs at once when they are
// logged on, else at their next logon).
func (s *WindowsUserTaskStore) startTask(ctx context.Context, sid string) error {
	script := "Start-ScheduledTask -TaskPath " + psQuote(windowsTaskPath) + " -TaskName " + psQuote(taskName(sid)) + " -ErrorAction SilentlyContinue; 'ordered'"
	if out, err := s.Run(ctx, s.ps(script)); err != nil || lastLine(out) != "ordered" {
		return fmt.Errorf("start the task: %v: %s", err, trimOut(out))
	}
	return nil
}

// validPlacement reports whether p is one of this store's: a person's
// SID and their directory under Root, nothing a tampered record could
// point elsewhere.
func (s *WindowsUserTaskStore) validPlacement(p Placement) bool {
	return sidPattern.MatchString(p.SID) && filepath.Clean(p.Path) == filepath.Join(s.Root, p.SID) &&
		(p.Thumbprint == "" || validThumbprint(p.Thumbprint)) && plainDir(p.Path)
}

// plainDir reports whether path is a directory itself, not a link or a
// junction to another one (which a person could put in place of their
// own directory to point the service at someone else's).
func plainDir(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().Type() == os.ModeDir
}

// Remove withdraws what waits in the person's directory (the request,
// a CSR, a certificate not yet installed, a PFX) and orders their task to
// delete the certificates it installed, with their keys and
// intermediates, then starts the task. The task stays registered for the
// next identity.
func (s *WindowsUserTaskStore) Remove(ctx context.Context, p Placement) error {
	if !s.validPlacement(p) {
		return fmt.Errorf("agent: the placement %s is not one of this store's", p.Path)
	}
	for _, f := range []string{userPFXFile, userPasswordFile, userRequestFile, userCSRFile, userKeyFile, userIssuedFile, userServiceFile} {
		if err := os.Remove(filepath.Join(p.Path, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	var order [][]string
	if b, err := readSmall(filepath.Join(p.Path, userRemoveFile)); err == nil {
		_ = json.Unmarshal(b, &order) // a damaged order is replaced
	}
	if p.Thumbprint != "" { // a placement of the PFX hand-over, recorded by an older agent
		order = append(order, append([]string{p.Thumbprint}, p.CAThumbprints...))
	}
	if !slices.ContainsFunc(order, func(o []string) bool { return len(o) == 1 && o[0] == removeInstalled }) {
		order = append(order, []string{removeInstalled})
	}
	b, _ := json.Marshal(order)
	if err := writeFileAtomic(filepath.Join(p.Path, userRemoveFile), b, 0o600); err != nil {
		return err
	}
	if err := s.startTask(ctx, p.SID); err != nil {
		return fmt.Errorf("agent: %s's task to remove the device identity: %w", p.User, err)
	}
	return nil
}

// UserImport is what a person's task did (imported.json): kept from run
// to run, since it lists what the task installed and must remove.
type UserImport struct {
	// Imported is the thumbprint of the certificate now in Store.
	Imported string   `json:"imported,omitempty"`
	Removed  []string `json:"removed,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	// Store is Cert:\CurrentUser\My; Provider the key's CNG provider and
	// KeyProtection "hardware" (Platform Crypto Provider, the TPM) or
	// "software"; KeyProtectionSource what the certificate says of it.
	Store               string `json:"store,omitempty"`
	Provider            string `json:"provider,omitempty"`
	KeyProtection       string `json:"key_protection,omitempty"`
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
	// PlatformError is why the TPM did not make the key, if it did not.
	PlatformError string    `json:"platform_error,omitempty"`
	DeviceID      string    `json:"device_id,omitempty"`
	NotAfter      time.Time `json:"not_after,omitzero"`
	RenewAfter    time.Time `json:"renew_after,omitzero"`
	// Pending: a key and its request wait for the certificate.
	Pending bool `json:"pending,omitempty"`
	// Installed are the certificates the task put into the store and
	// removes on the service's order.
	Installed []InstalledCert `json:"installed,omitempty"`
}

// ImportForUser is `portier agent browser-import`, run by the person's
// scheduled task as the person: it carries out the removal order, makes
// the person's key and CSR or installs the certificate the service got for
// it (or, on the fallback, imports the PFX waiting in dir, non-exportable,
// and deletes it), and records what it did.
func ImportForUser(ctx context.Context, dir string, run CommandRunner, now time.Time) (*UserImport, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	if IsSystemProfile(home) {
		return nil, errors.New("agent: browser-import runs as a person, not as a service account")
	}
	store := &WindowsCertStore{Run: run}
	res := &UserImport{}
	if err := readJSON(filepath.Join(dir, userDoneFile), res); err != nil && !errors.Is(err, os.ErrNotExist) {
		res = &UserImport{} // damaged: what it listed is lost
	}
	res.Errors, res.Removed, res.Pending = nil, nil, false
	var order [][]string
	damaged := false
	if b, err := readSmall(filepath.Join(dir, userRemoveFile)); err == nil {
		if err := json.Unmarshal(b, &order); err != nil {
			// Kept for the service, which replaces it with its next order.
			res.Errors = append(res.Errors, "the removal order is damaged: "+err.Error())
			damaged = true
		}
	}
	var left [][]string
	for _, thumbs := range order {
		if len(thumbs) == 1 && thumbs[0] == removeInstalled {
			var keep []InstalledCert
			for _, c := range res.Installed {
				p := Placement{Store: StoreWindowsCert, AsAgent: true, Home: home, Path: windowsCertPath, Thumbprint: c.Thumbprint, CAThumbprints: c.CAThumbprints}
				if err := store.Remove(ctx, p); err != nil {
					res.Errors = append(res.Errors, err.Error())
					keep = append(keep, c)
					continue
				}
				res.Removed = append(res.Removed, c.Thumbprint)
			}
			res.Installed = keep
			if len(keep) > 0 {
				left = append(left, thumbs)
			} else {
				*res = UserImport{Removed: res.Removed, Errors: res.Errors}
			}
			continue
		}
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
		if res.Imported == thumbs[0] {
			res.Imported = ""
		}
	}
	if len(left) == 0 && !damaged {
		if err := os.Remove(filepath.Join(dir, userRemoveFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			res.Errors = append(res.Errors, err.Error())
		}
	} else if b, err := json.Marshal(left); err == nil {
		_ = writeFileAtomic(filepath.Join(dir, userRemoveFile), b, 0o600)
	}
	pfxPath, pwPath := filepath.Join(dir, userPFXFile), filepath.Join(dir, userPasswordFile)
	if pfx, err := readPFX(pfxPath); err == nil {
		thumb, cas, err := pfxThumbprint(pfx, pwPath)
		if err == nil {
			err = store.importFiles(ctx, pfxPath, pwPath, thumb)
		}
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		} else {
			// Imported: the key is now non-exportable in the store; the
			// exportable file must not stay behind.
			_ = os.Remove(pfxPath)
			_ = os.Remove(pwPath)
			res.Imported, res.Store, res.Provider, res.KeyProtection = thumb, windowsCertPath, "", agentwire.KeySoftware
			res.Installed = append(res.Installed, InstalledCert{Thumbprint: thumb, CAThumbprints: cas})
		}
	}
	personKey(ctx, dir, run, now, res)
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

// readPFX reads the PFX the fallback hand-over left, if any.
func readPFX(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return nil, fmt.Errorf("%s is not a plain file of an identity", path)
	}
	return os.ReadFile(path)
}

// pfxThumbprint reads the thumbprints of the device certificate and its
// intermediates from a PFX whose password is in the file pwPath.
func pfxThumbprint(pfx []byte, pwPath string) (string, []string, error) {
	pw, err := os.ReadFile(pwPath)
	if err != nil {
		return "", nil, err
	}
	_, leaf, cas, err := pkcs12.DecodeChain(pfx, strings.TrimSpace(string(pw)))
	if err != nil {
		return "", nil, fmt.Errorf("the identity file cannot be read: %w", err)
	}
	var ct []string
	for _, c := range cas {
		ct = append(ct, Thumbprint(c))
	}
	return Thumbprint(leaf), ct, nil
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

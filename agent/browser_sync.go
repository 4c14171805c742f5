package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
)

// BrowserFile records where the device identity is installed.
const BrowserFile = "browser.json"

// BrowserRecord is the content of browser.json.
type BrowserRecord struct {
	// Key identifies what was installed (serial, origins, users): when it
	// has not changed there is nothing to do.
	Key        string      `json:"key"`
	Placements []Placement `json:"placements"`
	Errors     []string    `json:"errors,omitempty"`
	At         time.Time   `json:"at"`
}

// BrowserOptions configure the browser installers of the agent.
type BrowserOptions struct {
	// Disabled keeps the device identity out of the browsers.
	Disabled bool
	// Stores are where the identity goes (default DefaultBrowserStores).
	Stores []BrowserStore
	// Users lists the people to install for (default LocalUsers).
	Users func() ([]LocalUser, error)
}

// DefaultBrowserStores are the native browser stores: on Linux the shared
// NSS database, the Firefox profiles and, when the agent runs as root,
// the Chromium/Chrome/Edge managed policy; on macOS the login keychains;
// on Windows the Chrome and Edge registry policy when the agent is
// elevated and, when it runs as a person, that person's certificate
// store, or, when it runs as a service, every person's store through
// their logon task (WindowsUserTaskStore).
func DefaultBrowserStores(run CommandRunner) []BrowserStore {
	if run == nil {
		run = ExecCommands
	}
	switch runtime.GOOS {
	case "darwin":
		return []BrowserStore{&KeychainStore{Run: run}}
	case "windows":
		var stores []BrowserStore
		if elevated() {
			stores = append(stores, &WindowsPolicyStore{Run: run})
		}
		if home, err := os.UserHomeDir(); err == nil && !IsSystemProfile(home) {
			stores = append(stores, &WindowsCertStore{Run: run})
		} else if err == nil {
			// The service: each person's store through their logon task.
			stores = append(stores, &WindowsUserTaskStore{Run: run, Root: WindowsUserImportRoot()})
		}
		return stores
	case "linux":
	default:
		return nil
	}
	stores := []BrowserStore{&NSSStore{Run: run, TPM: DetectTPMBrowserKeys(os.DirFS("/"), exec.LookPath, nil)}, &NSSStore{Run: run, Firefox: true}}
	if os.Geteuid() == 0 {
		stores = append(stores, &ChromePolicyStore{Dirs: LinuxChromePolicyDirs})
	}
	return stores
}

// LocalUsers is the people to install for: every person with an account
// (see HumanUsers; DarwinUsers on macOS) when the agent runs as root,
// every person with a profile (WindowsUsers) when it runs as a Windows
// service, else the agent's own user.
func LocalUsers() ([]LocalUser, error) {
	if runtime.GOOS == "windows" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		if IsSystemProfile(home) {
			return WindowsUsers(context.Background(), ExecCommands, "")
		}
		return []LocalUser{HomeUser(home)}, nil
	}
	if os.Geteuid() != 0 {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		return []LocalUser{HomeUser(home)}, nil
	}
	if runtime.GOOS == "darwin" {
		return DarwinUsers(context.Background(), ExecCommands, fileOwner, fileExists)
	}
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil, err
	}
	return HumanUsers(b, fileOwner), nil
}

// fileExists reports whether path exists.
func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

func (o BrowserOptions) withDefaults() BrowserOptions {
	if o.Stores == nil {
		o.Stores = DefaultBrowserStores(nil)
	}
	if o.Users == nil {
		o.Users = LocalUsers
	}
	return o
}

// loadBrowserRecord reads dir's browser.json (empty when absent).
func loadBrowserRecord(dir string) (*BrowserRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, BrowserFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &BrowserRecord{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r BrowserRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("agent: %s is corrupt: %w", filepath.Join(dir, BrowserFile), err)
	}
	return &r, nil
}

func (r *BrowserRecord) save(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, BrowserFile), append(b, '\n'), 0o600)
}

// origins asks the server for Portier's https origins (console and
// routes). A server without the call gets its own URL only.
func (a *Agent) origins(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var ans agentwire.Origins
	err := a.c.call(ctx, http.MethodGet, "/api/v1/agent/origins", nil, &ans)
	if IsStatus(err, http.StatusNotFound) {
		return []string{a.st.Server}, nil
	}
	if err != nil {
		return nil, err
	}
	return Origins(append(ans.Origins, a.st.Server)), nil
}

// identity is what the stores install: the device key and certificate,
// or, when the device key is in the TPM, the browser key and its own
// certificate (see browserCredentials).
func (a *Agent) identity(ctx context.Context) (*BrowserIdentity, error) {
	key, certs, err := a.browserCredentials(ctx)
	if err != nil {
		return nil, err
	}
	return &BrowserIdentity{DeviceID: a.st.DeviceID, Key: key, Leaf: certs[0], Intermediates: certs[1:]}, nil
}

// SyncBrowsers makes the browsers hold the current device identity: when
// the certificate, Portier's origins or the people of the device changed
// since the last time (or it failed), it removes what it installed before
// and installs again. Failures are recorded (status shows them) and
// returned; they never stop the agent's other work.
func (a *Agent) SyncBrowsers(ctx context.Context) error {
	if a.o.Browser == nil || a.o.Browser.Disabled {
		return nil
	}
	bo := a.o.Browser.withDefaults()
	id, err := a.identity(ctx)
	if err != nil {
		return err
	}
	if id.Origins, err = a.origins(ctx); err != nil {
		return fmt.Errorf("agent: ask the server for Portier's hosts: %w", err)
	}
	id.NewTPMBrowserKey = a.tpmBrowserKeyMaker().New
	a.logTPMFallbacks(bo.Stores)
	if id.Users, err = bo.Users(); err != nil {
		return fmt.Errorf("agent: list the local users: %w", err)
	}
	rec, err := loadBrowserRecord(a.dir)
	if err != nil {
		return err
	}
	key := syncKey(id)
	if rec.Key == key && len(rec.Errors) == 0 {
		return nil
	}
	errs := removePlacements(ctx, bo.Stores, stalePlacements(bo.Stores, rec.Placements, id))
	next := &BrowserRecord{Key: key, At: a.o.Clock().UTC(), Placements: []Placement{}}
	// What could not be removed stays recorded, to be removed later.
	for _, e := range errs {
		next.Errors = append(next.Errors, e.err.Error())
		next.Placements = append(next.Placements, e.p)
	}
	for _, s := range bo.Stores {
		ps, err := s.Install(ctx, id)
		next.Placements = append(next.Placements, ps...)
		if err != nil {
			next.Errors = append(next.Errors, err.Error())
			a.o.Log.Warn("agent: device identity not installed", "store", s.Name(), "err", err)
		}
		for _, p := range ps {
			a.o.Log.Info("agent: device identity installed", "where", p.describe(), "serial", p.Serial)
		}
	}
	if err := next.save(a.dir); err != nil {
		return err
	}
	if len(next.Errors) > 0 {
		return fmt.Errorf("agent: the device identity is not installed everywhere: %s", strings.Join(next.Errors, "; "))
	}
	return nil
}

// syncKey identifies an installation: certificate serial, origins, users.
func syncKey(id *BrowserIdentity) string {
	h := sha256.New()
	b, _ := json.Marshal([]any{id.Leaf.SerialNumber.String(), Origins(id.Origins), id.Users})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

type placementError struct {
	p   Placement
	err error
}

// removePlacements removes each placement with its store; a placement of
// a store not configured any more is left (and reported).
func removePlacements(ctx context.Context, stores []BrowserStore, ps []Placement) []placementError {
	byName := map[string]BrowserStore{}
	for _, s := range stores {
		byName[s.Name()] = s
	}
	var errs []placementError
	for _, p := range ps {
		s, ok := byName[p.Store]
		if !ok {
			errs = append(errs, placementError{p, fmt.Errorf("agent: no %s store on this agent to remove %s", p.Store, p.Path)})
			continue
		}
		if err := s.Remove(ctx, p); err != nil {
			errs = append(errs, placementError{p, err})
		}
	}
	return errs
}

// RemoveBrowserIdentity removes every placement recorded in the
// enrollment under stateDir, keeping in the record what could not be
// removed. It returns what it removed.
func RemoveBrowserIdentity(ctx context.Context, stateDir string, o BrowserOptions) ([]Placement, error) {
	o = o.withDefaults()
	dir := profileDir(stateDir)
	rec, err := loadBrowserRecord(dir)
	if err != nil {
		return nil, err
	}
	if len(rec.Placements) == 0 {
		return nil, nil
	}
	errs := removePlacements(ctx, o.Stores, rec.Placements)
	next := &BrowserRecord{Placements: []Placement{}, At: rec.At}
	var all []error
	for _, e := range errs {
		next.Placements = append(next.Placements, e.p)
		next.Errors = append(next.Errors, e.err.Error())
		all = append(all, e.err)
	}
	var removed []Placement
	for _, p := range rec.Placements {
		if !contains(next.Placements, p) {
			removed = append(removed, p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err == nil {
		if err := next.save(dir); err != nil {
			all = append(all, err)
		}
	}
	return removed, errors.Join(all...)
}

func contains(ps []Placement, p Placement) bool {
	for _, q := range ps {
		if q.Store == p.Store && q.Path == p.Path {
			return true
		}
	}
	return false
}

// removeBrowsers is RemoveBrowserIdentity for a running agent (revoked,
// retired or wiped): failures are logged.
func (a *Agent) removeBrowsers(ctx context.Context) {
	if a.o.Browser == nil {
		return
	}
	removed, err := RemoveBrowserIdentity(context.WithoutCancel(ctx), a.o.StateDir, *a.o.Browser)
	for _, p := range removed {
		a.o.Log.Info("agent: device identity removed", "where", p.describe())
	}
	if err != nil {
		a.o.Log.Warn("agent: device identity not removed everywhere", "err", err)
	}
}

package agent

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// File names in the state (or work-profile) directory.
const (
	KeyFile        = "device.key"      // the device's private key (or its TPM blob), 0600
	BrowserKeyFile = "browser.key"     // the browsers' own key when device.key is in the TPM, 0600
	BrowserCrtFile = "browser.crt"     // its certificate chain, 0644
	CertFile       = "device.crt"      // leaf + intermediate, 0644
	CAFile         = "ca.crt"          // the pinned Portier root, 0644
	StateFile      = "state.json"      // server, device id, report sequence, ...
	JournalFile    = "actions.journal" // action ids started and done
	PrivacyFile    = "privacy.txt"     // the last privacy notice
	// TPMBrowserKeysFile keeps the people's TPM browser keys (wrapped
	// blobs, useless off this TPM) and their certificates, 0600.
	TPMBrowserKeysFile = "tpm-browser-keys.json"
	WorkProfileDir     = "work-profile" // BYOD: everything above lives here
)

// profileFiles are every file the agent writes in its directory: what a
// selective wipe deletes when the agent is not in work-profile mode.
var profileFiles = [...]string{KeyFile, CertFile, CAFile, StateFile, JournalFile, PrivacyFile, BrowserFile, BrowserKeyFile, BrowserCrtFile, TPMBrowserKeysFile}

// DefaultStateDir is the per-OS state directory of the agent service.
func DefaultStateDir() string {
	switch runtime.GOOS {
	case "windows":
		if pd := os.Getenv("ProgramData"); pd != "" {
			return filepath.Join(pd, "Portier", "Agent")
		}
		return `C:\ProgramData\Portier\Agent`
	case "darwin":
		return "/Library/Application Support/Portier/Agent"
	}
	return "/var/lib/portier-agent"
}

// profileDir returns the directory holding the enrollment under stateDir:
// the work-profile subdirectory if a BYOD enrollment lives there, else
// stateDir itself.
func profileDir(stateDir string) string {
	wp := filepath.Join(stateDir, WorkProfileDir)
	if _, err := os.Stat(filepath.Join(wp, StateFile)); err == nil {
		return wp
	}
	return stateDir
}

// writeFileAtomic writes data to path with mode: to a temporary file in
// the same directory, synced, then renamed over path, then the directory
// synced, so a crash leaves the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable (not supported on Windows).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// readLimited reads r to its end, refusing more than max bytes: what a
// person could have written is read with a bound. name names it in errors.
func readLimited(r io.Reader, name string, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return b, nil
}

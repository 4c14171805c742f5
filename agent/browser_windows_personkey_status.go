package agent

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// UserImportStatus is, for one person served by the Windows service
// (windows-user-task), what their logon task reported (imported.json)
// and what waits in their directory.
type UserImportStatus struct {
	User string `json:"user"`
	SID  string `json:"sid,omitempty"`
	// Thumbprint is the certificate in the person's store (or, for the
	// PFX fallback, the one handed over).
	Thumbprint string `json:"thumbprint"`
	// Imported: the certificate is in the person's store; false while the
	// task has not run (the person has not logged on) or waits for it.
	Imported bool `json:"imported"`
	// Store, Provider, KeyProtection: where the certificate and its key
	// are ("hardware": the Microsoft Platform Crypto Provider, the TPM).
	Store         string    `json:"store,omitempty"`
	Provider      string    `json:"provider,omitempty"`
	KeyProtection string    `json:"key_protection,omitempty"`
	PlatformError string    `json:"platform_error,omitempty"`
	NotAfter      time.Time `json:"not_after,omitzero"`
	RenewAfter    time.Time `json:"renew_after,omitzero"`
	// Waiting says what the person's key waits for: "logon" (the task
	// has not made it), "certificate" (the service has not got it),
	// "install" (the task has not installed it), "import" (the fallback's
	// PFX waits for the task), "" nothing.
	Waiting string   `json:"waiting,omitempty"`
	Errors  []string `json:"errors,omitempty"`
}

// readUserImports reads the logon tasks' reports for rec's placements.
func readUserImports(rec *BrowserRecord) []UserImportStatus {
	var out []UserImportStatus
	for _, p := range rec.Placements {
		if p.Store != StoreWindowsUserTask {
			continue
		}
		u := UserImportStatus{User: p.User, SID: p.SID, Thumbprint: p.Thumbprint}
		var done UserImport
		if err := readJSON(filepath.Join(p.Path, userDoneFile), &done); err == nil {
			u.Errors = done.Errors
			if p.Thumbprint == "" { // the person's own key
				u.Thumbprint, u.Imported = done.Imported, done.Imported != ""
				u.Store, u.Provider, u.KeyProtection, u.PlatformError = done.Store, done.Provider, done.KeyProtection, done.PlatformError
				u.NotAfter, u.RenewAfter = done.NotAfter, done.RenewAfter
			} else {
				u.Imported = done.Imported == p.Thumbprint
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			u.Errors = []string{userDoneFile + " is damaged: " + err.Error()}
		}
		if p.Thumbprint == "" {
			u.Waiting = personWaiting(p.Path, u.Imported)
		}
		var note ServiceNote
		if b, err := readSmall(filepath.Join(p.Path, userServiceFile)); err == nil && json.Unmarshal(b, &note) == nil && note.Error != "" {
			u.Errors = append(u.Errors, "service: "+note.Error)
		}
		out = append(out, u)
	}
	return out
}

// personWaiting says which step of the exchange a person's directory is
// at.
func personWaiting(dir string, imported bool) string {
	has := func(name string) bool { _, err := os.Lstat(filepath.Join(dir, name)); return err == nil }
	switch {
	case has(userPFXFile):
		return "import"
	case has(userIssuedFile):
		return "install"
	case has(userCSRFile):
		return "certificate"
	case has(userRequestFile) && !imported:
		return "logon"
	}
	return ""
}

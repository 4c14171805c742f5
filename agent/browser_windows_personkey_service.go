package agent

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/portier/portier/agentwire"
)

// PersonKeyExchange is what the service needs to get a certificate for a
// person's key: the server call, and what it knows of the machine.
type PersonKeyExchange struct {
	// Issue sends the request to POST /api/v1/agent/browser-certificates
	// and returns the answer, whose chain it checked (for pub, to the
	// pinned root).
	Issue func(ctx context.Context, req agentwire.BrowserCertificateRequest, pub *ecdsa.PublicKey) (*agentwire.Certificate, error)
	// Identity is the device's own identity, for the PFX fallback when
	// the server does not issue browser certificates.
	Identity func() (*BrowserIdentity, error)
	// DeviceID is the device's id: the only subject a person's CSR may
	// name, whatever their request.json says.
	DeviceID string
	// Now is the service's clock.
	Now func() time.Time
}

// PersonKeyServer is a store that waits on people's own keys: the agent
// calls ServeRequests at every cycle (see Agent.serveBrowserRequests).
type PersonKeyServer interface {
	ServeRequests(ctx context.Context, ps []Placement, ex PersonKeyExchange) error
}

var _ PersonKeyServer = (*WindowsUserTaskStore)(nil)

// ServiceNote is service.json: the service's last problem with a person's
// request, for `portier agent status`.
type ServiceNote struct {
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// ServeRequests sends the CSR waiting in each person's directory for a
// certificate, writes it back into that directory and starts the
// person's task to install it. Only this store's recorded placements are
// served, each directory is Root\<SID>, and the person named to the
// server is that SID: what the files say cannot name another person or
// another directory.
func (s *WindowsUserTaskStore) ServeRequests(ctx context.Context, ps []Placement, ex PersonKeyExchange) error {
	var errs []error
	for _, p := range ps {
		if p.Store != s.Name() {
			continue
		}
		if !s.validPlacement(p) {
			errs = append(errs, fmt.Errorf("agent: the placement %s is not one of this store's", p.Path))
			continue
		}
		if err := s.serve(ctx, p, ex); err != nil {
			errs = append(errs, fmt.Errorf("agent: the browser certificate of %s: %w", p.User, err))
		}
	}
	return errors.Join(errs...)
}

// serve handles one person's directory.
func (s *WindowsUserTaskStore) serve(ctx context.Context, p Placement, ex PersonKeyExchange) error {
	dir := p.Path
	if _, err := os.Lstat(filepath.Join(dir, userRequestFile)); err != nil {
		return nil // no request of the service's (or it was withdrawn)
	}
	if _, err := os.Lstat(filepath.Join(dir, userIssuedFile)); err == nil {
		return nil // waiting for the person's task
	}
	csrPEM, err := readSmall(filepath.Join(dir, userCSRFile))
	if errors.Is(err, os.ErrNotExist) {
		return s.kickRenewal(ctx, p, ex.Now())
	}
	note := func(err error, drop bool) error {
		if drop { // the task makes a new key at its next run
			clearPersonFiles(dir, userCSRFile, userKeyFile)
		}
		b, _ := json.Marshal(ServiceNote{Error: err.Error(), At: ex.Now().UTC()})
		_ = writeFileAtomic(filepath.Join(dir, userServiceFile), b, 0o600)
		return err
	}
	if err != nil {
		return note(err, true)
	}
	csr, err := parsePersonCSR(csrPEM, ex.DeviceID)
	if err != nil {
		return note(err, true)
	}
	// The key is the person's: their task made it in the TPM when it
	// could, but the person controls this directory and could have put a
	// software key of their own making here, so the service cannot vouch
	// for where the key lives. It tells the server "software", whatever
	// the task reports; the server's certificate, and with it the proxy's
	// decision, never rests on the person's word (docs/agent.md).
	br := agentwire.BrowserCertificateRequest{
		CSR:           string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})),
		Person:        p.SID,
		KeyProtection: agentwire.KeySoftware,
	}
	ans, err := ex.Issue(ctx, br, csr.PublicKey.(*ecdsa.PublicKey))
	switch {
	case IsStatus(err, http.StatusNotFound) && ex.Identity != nil:
		// A server older than protocol 1.2: the device's own identity.
		id, ierr := ex.Identity()
		if ierr == nil {
			ierr = s.handOverPFX(dir, id)
		}
		if ierr != nil {
			return note(fmt.Errorf("the server issues no browser certificates, and the device identity cannot be handed over: %w", ierr), true)
		}
		clearPersonFiles(dir, userRequestFile, userCSRFile, userKeyFile, userServiceFile)
		return s.startTask(ctx, p.SID)
	case err != nil:
		var ae *APIError
		// Refused: this CSR will not do (a new key will); else retried.
		return note(err, errors.As(err, &ae) && ae.Status/100 == 4)
	}
	iss := IssuedBrowserCert{Certificate: ans.Certificate, NotAfter: ans.NotAfter, RenewAfter: ans.RenewAfter,
		KeyProtection: ans.KeyProtection, KeyProtectionSource: ans.KeyProtectionSource}
	b, _ := json.MarshalIndent(iss, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, userIssuedFile), append(b, '\n'), 0o600); err != nil {
		return note(err, false)
	}
	clearPersonFiles(dir, userServiceFile)
	return s.startTask(ctx, p.SID)
}

// renewKickEvery is how often the service starts, at most, the task of a
// person whose certificate is due for renewal (it runs only while they
// are logged on; their logon runs it anyway).
const renewKickEvery = time.Hour

// kickRenewal starts the person's task when the certificate it installed
// is past its renewal time, so a person who stays logged on renews in
// time; the task then makes the new key and request.
func (s *WindowsUserTaskStore) kickRenewal(ctx context.Context, p Placement, now time.Time) error {
	var done UserImport
	if err := readJSON(filepath.Join(p.Path, userDoneFile), &done); err != nil || done.Imported == "" || done.RenewAfter.IsZero() || now.Before(done.RenewAfter) {
		return nil
	}
	if last, ok := s.renewKicks[p.SID]; ok && now.Sub(last) < renewKickEvery {
		return nil
	}
	if s.renewKicks == nil {
		s.renewKicks = map[string]time.Time{}
	}
	s.renewKicks[p.SID] = now
	return s.startTask(ctx, p.SID)
}

// serveBrowserRequests lets the stores that wait on people's own keys
// get their certificates (ServeRequests); failures are logged, and each
// person's status shows them.
func (a *Agent) serveBrowserRequests(ctx context.Context) {
	if a.o.Browser == nil || a.o.Browser.Disabled {
		return
	}
	var servers []PersonKeyServer
	for _, s := range a.o.Browser.withDefaults().Stores {
		if ps, ok := s.(PersonKeyServer); ok {
			servers = append(servers, ps)
		}
	}
	if len(servers) == 0 {
		return
	}
	rec, err := loadBrowserRecord(a.dir)
	if err != nil {
		a.o.Log.Warn("agent: browser keys of the people", "err", err)
		return
	}
	ex := PersonKeyExchange{Issue: a.issueBrowserCertificate, Identity: func() (*BrowserIdentity, error) { return a.identity(ctx) },
		DeviceID: a.st.DeviceID, Now: a.o.Clock}
	for _, s := range servers {
		if err := s.ServeRequests(ctx, rec.Placements, ex); err != nil {
			a.o.Log.Warn("agent: browser keys of the people", "err", err)
		}
	}
}

// PlacementKeeper is a store whose placement can outlive a change of the
// device certificate: SyncBrowsers does not remove a placement the store
// keeps for the new identity (its Install then finds it in place).
type PlacementKeeper interface {
	Keeps(p Placement, id *BrowserIdentity) bool
}

var _ PlacementKeeper = (*WindowsUserTaskStore)(nil)

// Keeps reports whether a person's own key stays valid for id: the person
// is still one of id's people and their directory asks for a key of this
// same device. Such a key does not depend on the device certificate, so
// its renewal does not replace the person's key.
func (s *WindowsUserTaskStore) Keeps(p Placement, id *BrowserIdentity) bool {
	if p.Store != s.Name() || p.Thumbprint != "" || !s.validPlacement(p) {
		return false
	}
	found := false
	for _, u := range id.Users {
		found = found || u.SID == p.SID
	}
	var req PersonKeyRequest
	return found && readJSON(filepath.Join(p.Path, userRequestFile), &req) == nil && req.DeviceID == id.DeviceID
}

// stalePlacements are the placements of ps no store keeps for id.
func stalePlacements(stores []BrowserStore, ps []Placement, id *BrowserIdentity) []Placement {
	var out []Placement
	for _, p := range ps {
		kept := false
		for _, s := range stores {
			if k, ok := s.(PlacementKeeper); ok && s.Name() == p.Store && k.Keeps(p, id) {
				kept = true
			}
		}
		if !kept {
			out = append(out, p)
		}
	}
	return out
}

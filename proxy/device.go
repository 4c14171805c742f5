package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// connState caches the device certificate check of one TLS connection: the
// chain cannot change within a connection, so the signature work is done
// once; validity and revocation are still checked on every request.
type connState struct {
	once     sync.Once
	deviceID string
	serial   string
	notAfter time.Time
	err      error
}

const connKey ctxKey = 1

// ConnContext gives each connection its cache; the server installs it as
// http.Server.ConnContext.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey, &connState{})
}

// Device notes shown on the deny page when a credential was not accepted.
const (
	noteForeign   = "This device presented a certificate that Portier did not issue, so it counts as an unmanaged device."
	noteExpired   = "This device's certificate has expired; the Portier agent renews it when it runs. Until then the device counts as unmanaged."
	noteRevoked   = "This device's certificate was revoked, so it counts as an unmanaged device. Contact IT if this is unexpected."
	noteRetired   = "This device was removed from management, so it counts as an unmanaged device."
	noteUnmanaged = "This device is not enrolled with Portier (it presented no device certificate), so it counts as an unmanaged device. Enroll it from the Portier portal, or use an enrolled device."
)

// identifyDevice resolves the request's device: a valid, unrevoked client
// certificate from Portier's CA naming an active device. Anything else is
// no device, with a note saying why when a credential was presented.
func (p *Proxy) identifyDevice(r *http.Request, req *request, now time.Time) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		p.sessionDevice(req)
		return
	}
	cs, _ := r.Context().Value(connKey).(*connState)
	if cs == nil {
		cs = &connState{}
	}
	cs.once.Do(func() { cs.verify(p.opts.CA, r.TLS.PeerCertificates, now) })
	switch {
	case errors.Is(cs.err, ca.ErrRevoked):
		req.devNote = noteRevoked
		return
	case errors.Is(cs.err, ca.ErrExpired):
		req.devNote = noteExpired
		return
	case cs.err != nil:
		req.devNote = noteForeign
		return
	case !now.Before(cs.notAfter):
		req.devNote = noteExpired
		return
	case p.opts.Store.IsRevoked(cs.serial):
		req.devNote = noteRevoked
		return
	}
	d, ok := p.opts.Store.Device(cs.deviceID)
	if !ok || d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		req.devNote = noteRetired
		return
	}
	req.device, req.serial = d, cs.serial
}

func (cs *connState) verify(v DeviceVerifier, chain []*x509.Certificate, now time.Time) {
	cs.deviceID, cs.serial, cs.err = v.VerifyClient(chain, now)
	cs.notAfter = chain[0].NotAfter
}

// sessionDevice is the browser-only BYOD path: the session was bound to a
// work-profile device by its device-bound WebAuthn credential.
func (p *Proxy) sessionDevice(req *request) {
	id := req.session.DeviceID
	if id == "" {
		return
	}
	d, ok := p.opts.Store.Device(id)
	if !ok || d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		req.devNote = noteRetired
		return
	}
	req.device = d
}

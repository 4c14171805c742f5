package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// connState caches the device certificate check of one TLS connection: the
// chain cannot change within a connection, so the signature work is done
// once; validity and revocation are still checked on every request. It
// also holds the HTTP/1 request being forwarded on the connection, for
// re-evaluation.
type connState struct {
	conn     net.Conn
	active   atomic.Pointer[request] // the HTTP/1 request being forwarded, nil between requests
	watched  atomic.Bool             // registered in the live set
	once     sync.Once
	deviceID string
	serial   string
	key      ca.KeyInfo // what the certificate says of its key, once verified
	notAfter time.Time
	err      error
	// hot is what the last request on this connection looked up in the
	// store, reused while the store's sequence has not moved.
	hot atomic.Pointer[hotState]
}

// hotState is the store lookups of one request: the session record for a
// cookie, and the device and revocation state for the connection's
// certificate, as of store sequence seq.
type hotState struct {
	seq     uint64
	host    string
	cookie  string
	session *store.Session
	device  *store.Device
	serial  string
	key     *ca.KeyInfo // the connection's, set once at verification
	devNote string
}

const connKey ctxKey = 1

// Attach installs the proxy's per-connection hooks on srv (ConnContext and
// ConnState; an existing ConnState hook is kept and called first). The
// server serving route hosts must call it before serving.
func (p *Proxy) Attach(srv *http.Server) {
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey, &connState{conn: c})
	}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if prev != nil {
			prev(c, st)
		}
		if st == http.StateClosed || st == http.StateHijacked {
			p.live.conns.Delete(c)
		}
	}
}

// Device notes shown on the deny page when a credential was not accepted.
const (
	noteForeign   = "This device presented a certificate that Portier did not issue, so it counts as an unmanaged device."
	noteExpired   = "This device's certificate has expired; the Portier agent renews it when it runs. Until then the device counts as unmanaged."
	noteRevoked   = "This device's certificate was revoked, so it counts as an unmanaged device. Contact IT if this is unexpected."
	noteRetired   = "This device was removed from management, so it counts as an unmanaged device."
	noteRecheck   = "This browser has not confirmed its device with its passkey recently, so it counts as an unmanaged device. Open the application in the browser to confirm it."
	noteUnmanaged = "This device is not enrolled with Portier (it presented no device certificate), so it counts as an unmanaged device. Enroll it from the Portier portal, or use an enrolled device."
)

// resolve looks up the request's session and device. The session counts
// only if it was handed off to this very host (identity.Lookup): an HTTP/2
// connection may carry several hosts, so the host is part of the cache key.
// The lookups are cached on the connection and reused until the store
// changes (any write moves its sequence), so a revocation still applies to
// the next request; lifetimes and certificate expiry are checked on every
// request.
func (p *Proxy) resolve(r *http.Request, req *request, cookie string, now time.Time) {
	cs, _ := r.Context().Value(connKey).(*connState)
	if cs == nil {
		cs = &connState{}
	}
	req.conn = cs
	seq := p.opts.Store.Seq()
	h := cs.hot.Load()
	host := req.rt.host
	if h == nil || h.seq != seq || h.cookie != cookie || h.host != host {
		h = &hotState{seq: seq, host: host, cookie: cookie}
		h.session, _ = identity.Lookup(p.opts.Store, cookie, host)
		p.identifyDevice(r, cs, h, now)
		cs.hot.Store(h)
	}
	if h.session != nil && identity.Fresh(h.session, now) {
		req.session = h.session
	}
	req.device, req.serial, req.key, req.devNote = h.device, h.serial, h.key, h.devNote
	if req.serial != "" && !now.Before(cs.notAfter) {
		req.device, req.serial, req.key, req.devNote = nil, "", nil, noteExpired
	}
	if req.serial == "" && req.device != nil && p.recheckDue(req.session, now) {
		req.device, req.devNote, req.recheck = nil, noteRecheck, true
	}
}

// recheckDue reports whether a session's passkey proof of its device is
// older than DeviceRecheck (a session bound before the proof time was
// recorded has none: due).
func (p *Proxy) recheckDue(s *store.Session, now time.Time) bool {
	return s != nil && s.DeviceID != "" && p.opts.DeviceRecheck > 0 && now.Sub(s.DeviceCheckedAt) > p.opts.DeviceRecheck
}

// identifyDevice resolves the request's device: a valid, unrevoked client
// certificate from Portier's CA naming an active device. Anything else is
// no device, with a note saying why when a credential was presented.
func (p *Proxy) identifyDevice(r *http.Request, cs *connState, h *hotState, now time.Time) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		if h.session != nil {
			p.sessionDevice(h)
		}
		return
	}
	cs.once.Do(func() { cs.verify(p.opts.CA, r.TLS.PeerCertificates, now) })
	switch {
	case errors.Is(cs.err, ca.ErrRevoked):
		h.devNote = noteRevoked
		return
	case errors.Is(cs.err, ca.ErrExpired):
		h.devNote = noteExpired
		return
	case cs.err != nil:
		h.devNote = noteForeign
		return
	case p.opts.Store.IsRevoked(cs.serial):
		h.devNote = noteRevoked
		return
	}
	d, ok := p.opts.Store.Device(cs.deviceID)
	if !ok || d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		h.devNote = noteRetired
		return
	}
	h.device, h.serial, h.key = d, cs.serial, &cs.key
}

func (cs *connState) verify(v DeviceVerifier, chain []*x509.Certificate, now time.Time) {
	cs.deviceID, cs.serial, cs.err = v.VerifyClient(chain, now)
	cs.notAfter = chain[0].NotAfter
	if cs.err == nil {
		cs.key = ca.KeyInfoFromCert(chain[0])
	}
}

// sessionDevice is the browser-only BYOD path: the session was bound to a
// work-profile device by its device-bound WebAuthn credential.
func (p *Proxy) sessionDevice(h *hotState) {
	id := h.session.DeviceID
	if id == "" {
		return
	}
	d, ok := p.opts.Store.Device(id)
	if !ok || d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		h.devNote = noteRetired
		return
	}
	h.device = d
}

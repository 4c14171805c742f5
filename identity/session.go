package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/portier/portier/store"
)

// SessionCookie is the name of Portier's session cookie, on the console and
// on every route host. The __Host- prefix makes browsers insist on Secure,
// Path=/ and no Domain, so one host's cookie never reaches another.
const SessionCookie = "__Host-portier_session"

// Session lifetimes.
const (
	SessionIdle     = 8 * time.Hour  // ends after this long without a request
	SessionAbsolute = 24 * time.Hour // ends this long after sign-in, whatever happens
	// lastSeenGranularity bounds how often a request writes LastSeen.
	LastSeenGranularity = time.Minute
)

// NewSessionSecret returns a cookie value with 256 bits of entropy and the
// store id it maps to (its SHA-256); only the id is ever stored.
func NewSessionSecret() (cookie, id string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	cookie = base64.RawURLEncoding.EncodeToString(b)
	return cookie, HashSecret(cookie)
}

// HashSecret is how cookie values and one-time codes are stored.
func HashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// SessionCookieFor returns the Set-Cookie for a session secret.
func SessionCookieFor(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: value, Path: "/", Expires: expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// ClearSessionCookie returns a Set-Cookie that removes the session cookie.
func ClearSessionCookie() *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// Live returns the session for a cookie value presented on host ("" for
// the console) if it is still valid at now: bound to that host, within its
// absolute and idle lifetimes, and (for a route host's session) its console
// session still exists — so signing out or revoking a session ends its
// children on the very next request.
func Live(st *store.Store, cookie, host string, now time.Time) (*store.Session, bool) {
	s, ok := Lookup(st, cookie, host)
	if !ok || !Fresh(s, now) {
		return nil, false
	}
	return s, true
}

// Lookup returns the session record for a cookie value presented on host
// ("" for the console, else the route host's lower-case name). Every
// session lookup goes through it, so a session counts only where it was
// issued: a console session (Host "") only on the console, a route session
// only on its own host — the console cookie, or one application's cookie,
// replayed on another application is no session at all. The session's
// console session (if it has one) must still exist and its user must not be
// disabled; Fresh checks its lifetimes.
func Lookup(st *store.Store, cookie, host string) (*store.Session, bool) {
	if cookie == "" {
		return nil, false
	}
	id := HashSecret(cookie)
	// Signed in through another replica an instant ago? Catch up first.
	s, ok := store.Find(st, func() (*store.Session, bool) { return st.Session(id) })
	if !ok || !BoundTo(s, host) {
		return nil, false
	}
	if s.ParentID != "" {
		if _, ok := st.Session(s.ParentID); !ok {
			return nil, false
		}
	}
	if u, ok := st.User(s.UserID); ok && u.Disabled {
		// Disabling a user ends their sessions in the same write; this
		// also refuses one created by a sign-in that raced the disable.
		return nil, false
	}
	return s, true
}

// BoundTo reports whether session s is valid on host ("" for the console):
// a console session has no host and no parent; a route session was handed
// off from a console session to exactly that host.
func BoundTo(s *store.Session, host string) bool {
	if host == "" {
		return s.Host == "" && s.ParentID == ""
	}
	return s.Host == host && s.ParentID != ""
}

// Fresh reports whether s is within its absolute and idle lifetimes at now.
func Fresh(s *store.Session, now time.Time) bool {
	return now.Before(s.ExpiresAt) && now.Sub(s.LastSeen) <= SessionIdle
}

// EndSession deletes a console session and every route session handed off
// from it, in one write.
func EndSession(ctx context.Context, st *store.Store, id string) error {
	return st.Write(ctx, EndSessionOps(st, id)...)
}

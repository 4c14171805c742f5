package proxy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/portier/portier/identity"
)

// Per-attempt cookies (see identity.AttemptParam): each sign-in or step-up
// the proxy starts gets its own cookie, so several tabs signing in at once
// each keep theirs. A browser holds at most maxAttempts; past that the
// proxy reuses one instead of adding more.
const (
	maxAttempts     = 4
	attemptLifetime = 10 * time.Minute // long enough for an IdP's sign-in and MFA
)

// attemptURL sets a sign-in attempt cookie on this route host and returns
// the request's URL carrying the attempt's reference, as the destination to
// give the console.
func (p *Proxy) attemptURL(w http.ResponseWriter, r *http.Request) string {
	name, secret := "", ""
	if held := attemptCookies(r); len(held) >= maxAttempts {
		name, secret = held[0].Name, held[0].Value
	} else {
		var id [6]byte
		_, _ = rand.Read(id[:])
		name = identity.AttemptCookiePrefix + hex.EncodeToString(id[:])
		secret, _ = identity.NewAttempt()
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: secret, Path: "/", MaxAge: int(attemptLifetime / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return identity.WithAttempt(requestURL(r), identity.HashSecret(secret))
}

// attemptCookies returns the well-formed attempt cookies a request carries.
func attemptCookies(r *http.Request) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, identity.AttemptCookiePrefix) && len(c.Value) == 43 {
			out = append(out, c)
		}
	}
	return out
}

// matchAttempt returns the name of the request's attempt cookie whose
// reference is ref, comparing in constant time; ok is false when ref is
// empty or no cookie matches.
func matchAttempt(r *http.Request, ref string) (name string, ok bool) {
	if !identity.ValidAttemptRef(ref) {
		return "", false
	}
	for _, c := range attemptCookies(r) {
		if subtle.ConstantTimeCompare([]byte(identity.HashSecret(c.Value)), []byte(ref)) == 1 {
			name, ok = c.Name, true
		}
	}
	return name, ok
}

// clearAttempt removes an attempt cookie once it has served.
func clearAttempt(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// stripAttemptCookies removes the attempt cookies from a request on its way
// upstream: like the session cookie, they are Portier's, not the
// application's. Only forwarded requests need it: the callback and the
// sign-in redirect read them.
func stripAttemptCookies(r *http.Request) {
	for _, line := range r.Header["Cookie"] {
		if strings.Contains(line, identity.AttemptCookiePrefix) {
			dropCookies(r, isAttemptCookie)
			return
		}
	}
}

func isAttemptCookie(name string) bool { return strings.HasPrefix(name, identity.AttemptCookiePrefix) }

package identity

import (
	"net/url"
	"strings"
)

// A sign-in attempt binds a hand-off to the browser that started the
// sign-in. When the proxy sends a browser to sign in (or to step up), it
// sets a random per-attempt cookie on the route host (AttemptCookiePrefix)
// and adds the cookie's reference — the SHA-256 of its value — to the
// destination URL as AttemptParam. The destination travels through every
// sign-in flow (OIDC, password, security key, step-up, device check); at the
// end Continue moves the reference into the hand-off record, and the proxy
// accepts the hand-off code only from a browser holding the cookie the
// reference names. An attacker's code, opened in a victim's browser, meets
// no matching cookie: no login CSRF.
const (
	// AttemptParam is the query parameter of a route URL that carries an
	// attempt reference to the console. It never reaches the application.
	AttemptParam = "portier_attempt"
	// AttemptCookiePrefix starts the name of every per-attempt cookie; the
	// __Host- prefix keeps other hosts (even sibling subdomains) from
	// setting one.
	AttemptCookiePrefix = "__Host-portier_attempt_"
)

// NewAttempt returns a fresh attempt cookie value and its reference.
func NewAttempt() (secret, ref string) { return NewSessionSecret() }

// ValidAttemptRef reports whether ref has the shape of an attempt
// reference (64 lower-case hex digits).
func ValidAttemptRef(ref string) bool {
	if len(ref) != 64 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// WithAttempt returns rawURL with ref as its only AttemptParam, keeping
// the rest of its query exactly as it was.
func WithAttempt(rawURL, ref string) string {
	base, query, _ := strings.Cut(rawURL, "?")
	rest, _ := SplitAttempt(query)
	if rest != "" {
		rest += "&"
	}
	return base + "?" + rest + AttemptParam + "=" + ref
}

// SplitAttempt removes every AttemptParam from a raw query and returns
// what is left (otherwise unchanged) and the last well-formed reference,
// "" when there is none.
func SplitAttempt(rawQuery string) (rest, ref string) {
	if rawQuery == "" {
		return "", ""
	}
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		key, value, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil && k == AttemptParam {
			if ValidAttemptRef(value) {
				ref = value
			}
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&"), ref
}

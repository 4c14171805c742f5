package identity

import (
	"crypto/subtle"
	"net/http"
	"time"
)

// FlowCookie is the console's pre-sign-in cookie. It binds sign-in flows to
// the browser that started them and is the secret behind the CSRF tokens of
// the sign-in forms. Like the session cookie it is __Host-, Secure,
// HttpOnly and SameSite=Lax.
const FlowCookie = "__Host-portier_flow"

// FlowCookieLifetime is how long a browser keeps its flow cookie; a sign-in
// page left open longer must be reloaded.
const FlowCookieLifetime = time.Hour

// NewFlowSecret returns a value for the flow cookie (256 random bits).
func NewFlowSecret() string {
	v, _ := NewSessionSecret()
	return v
}

// FlowCookieFor returns the Set-Cookie for a flow cookie value.
func FlowCookieFor(value string, now time.Time) *http.Cookie {
	return &http.Cookie{Name: FlowCookie, Value: value, Path: "/", Expires: now.Add(FlowCookieLifetime),
		MaxAge: int(FlowCookieLifetime / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// CSRFToken is the anti-forgery token for the forms and XHRs of the browser
// whose cookie (session cookie once signed in, flow cookie before) has value
// secret. It is derived one-way from the HttpOnly cookie, so a page on
// another site can neither read nor compute it, and the store never holds
// it.
func CSRFToken(secret string) string {
	if secret == "" {
		return ""
	}
	return HashSecret("portier csrf v1\x00" + secret)
}

// CheckCSRF reports whether token is the CSRF token for secret, in constant
// time.
func CheckCSRF(secret, token string) bool {
	want := CSRFToken(secret)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

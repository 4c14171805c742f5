package proxy

import (
	"net/http"
	"strings"
)

// stripPortierCookies removes from an upstream's response every Set-Cookie
// that names one of Portier's own cookies (the session and sign-in attempt
// cookies, in any case, with or without a __Host-/__Secure- prefix). An
// application behind Portier must not be able to plant a session of its
// choosing in its users' browsers (session fixation) or touch the cookie
// that binds a sign-in to the browser. It is every upstream's
// ModifyResponse, so it runs on every response; the common response has no
// Set-Cookie and costs one map lookup.
func stripPortierCookies(resp *http.Response) {
	lines, ok := resp.Header["Set-Cookie"]
	if !ok {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		if !isPortierCookie(line) {
			kept = append(kept, line)
		}
	}
	if len(kept) == 0 {
		delete(resp.Header, "Set-Cookie")
		return
	}
	resp.Header["Set-Cookie"] = kept
}

// isPortierCookie reports whether a Set-Cookie line names a cookie in
// Portier's namespace ("portier_…").
func isPortierCookie(line string) bool {
	name, _, _ := strings.Cut(line, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.TrimPrefix(name, "__host-")
	name = strings.TrimPrefix(name, "__secure-")
	return strings.HasPrefix(name, "portier_")
}

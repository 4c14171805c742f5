package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/identity"
)

// FuzzAttemptCookies feeds client-controlled Cookie headers through the
// attempt-cookie parsing: nothing panics, no attempt cookie survives the
// strip before forwarding, every other cookie does, and no cookie matches
// a reference it does not hash to.
func FuzzAttemptCookies(f *testing.F) {
	ap := identity.AttemptCookiePrefix
	f.Add(ap + "a1=" + strings.Repeat("x", 43) + "; theme=dark")
	f.Add("theme=dark;" + ap + "=;;" + ap + "b=\"q\"")
	f.Add("")
	f.Fuzz(func(t *testing.T, cookie string) {
		r := &http.Request{Header: http.Header{"Cookie": {cookie}}}
		for _, c := range attemptCookies(r) {
			if name, ok := matchAttempt(r, identity.HashSecret(c.Value)); !ok || !strings.HasPrefix(name, ap) {
				t.Errorf("attempt cookie %q does not match its own reference", c.Name)
			}
		}
		if _, ok := matchAttempt(r, identity.HashSecret("not in the header")); ok && !strings.Contains(cookie, "not in the header") {
			t.Errorf("%q matched a foreign reference", cookie)
		}
		var others []string
		for _, part := range strings.Split(cookie, ";") {
			if part = strings.TrimSpace(part); part != "" && !strings.HasPrefix(part, ap) {
				others = append(others, part)
			}
		}
		stripAttemptCookies(r)
		var kept []string
		for _, line := range r.Header["Cookie"] {
			for _, part := range strings.Split(line, ";") {
				if part = strings.TrimSpace(part); part != "" {
					if strings.HasPrefix(part, ap) {
						t.Errorf("attempt cookie survived: %q", line)
					}
					kept = append(kept, part)
				}
			}
		}
		if strings.Join(kept, ";") != strings.Join(others, ";") {
			t.Errorf("cookies %q became %q, want %q", cookie, kept, others)
		}
	})
}

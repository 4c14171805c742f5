package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/identity"
)

// FuzzRequestHeaders feeds client-controlled Host and Cookie values and
// header names through what the proxy parses on every request: whatever
// they hold, nothing panics, no spelling (any case, '_' for '-') of a
// header Portier sets and no Portier cookie survives stripping, and every
// other header and cookie does.
func FuzzRequestHeaders(f *testing.F) {
	sc := identity.SessionCookie
	// portierSets lists, lower case with '-', the headers besides
	// X-Portier-* and X-Forwarded-* that a client must not send upstream.
	portierSets := map[string]bool{"forwarded": true, "x-real-ip": true, "x-client-ip": true, "x-cluster-client-ip": true,
		"client-ip": true, "true-client-ip": true, "x-original-url": true, "x-rewrite-url": true,
		"x-http-method-override": true, "x-http-method": true, "x-method-override": true}
	f.Add("wiki.example.com:8443", sc+"=abc; theme=dark", "X-Portier-Email")
	f.Add("WIKI.Example.COM.", `theme=dark;`+sc+`="quoted"; lang=fr`, "x-portier-trust")
	f.Add("[::1]:443", ";;=;"+sc+"=;"+sc+"=b", "X-Portier")
	f.Add("", "", "")
	f.Add("wiki", "a=b", "X_Portier_Email")
	f.Add("wiki", "a=b", "x-forwarded_for")
	f.Add("wiki", "a=b", "X-REAL-IP")
	f.Add("wiki", "a=b", "True_Client_IP")
	f.Add("wiki", "a=b", "X-Portier")
	f.Add("wiki", "a=b", "X-Realip")
	f.Fuzz(func(t *testing.T, host, cookie, name string) {
		h := HostOnly(host)
		if h != strings.ToLower(h) {
			t.Errorf("HostOnly(%q) = %q is not lower case", host, h)
		}
		r := &http.Request{Header: http.Header{"Cookie": {cookie}}}
		if name != "" {
			r.Header[name] = []string{"spoofed"}
		}
		got := sessionCookie(r)
		if got != "" && !strings.Contains(cookie, sc+"=") {
			t.Errorf("sessionCookie found %q in %q, which has no %s", got, cookie, sc)
		}
		var others []string
		for _, part := range strings.Split(cookie, ";") {
			part = strings.TrimSpace(part)
			if n, _, _ := strings.Cut(part, "="); part != "" && n != sc {
				others = append(others, part)
			}
		}
		stripRequest(r)
		for k := range r.Header {
			if n := strings.ReplaceAll(strings.ToLower(k), "_", "-"); strings.HasPrefix(n, "x-portier") ||
				strings.HasPrefix(n, "x-forwarded-") || portierSets[n] {
				t.Errorf("header %q survived stripping", k)
			}
		}
		if name != "" && r.Header[name] == nil && !spoofable(name) {
			t.Errorf("header %q was stripped, but it is the client's own", name)
		}
		var kept []string
		for _, line := range r.Header["Cookie"] {
			for _, part := range strings.Split(line, ";") {
				part = strings.TrimSpace(part)
				if n, _, _ := strings.Cut(part, "="); n == sc {
					t.Errorf("Portier's cookie survived stripping: %q", line)
				}
				if part != "" {
					kept = append(kept, part)
				}
			}
		}
		if strings.Join(kept, ";") != strings.Join(others, ";") {
			t.Errorf("cookies %q became %q, want the others kept: %q", cookie, kept, others)
		}
	})
}

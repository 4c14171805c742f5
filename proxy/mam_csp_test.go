package proxy

import "testing"

// TestAmendCSP: Portier's asset source goes to the directive that governs
// each kind of element, and nowhere else; a nonce only where the
// application's script policy relies on nonces, hashes or
// 'strict-dynamic'; never 'unsafe-inline'.
func TestAmendCSP(t *testing.T) {
	const base = "https://a.example/.portier/mam/"
	cases := []struct {
		name, in        string
		script          bool
		want            string
		wantNonceNeeded bool
	}{
		{"no fetch directive", "frame-ancestors 'none'", true, "frame-ancestors 'none'", false},
		{"default-src only: copied, not widened",
			"default-src 'self'", true, "default-src 'self'; style-src 'self' " + base + "; script-src 'self' " + base, false},
		{"none is replaced", "style-src 'none'; script-src 'none'", true, "style-src " + base + "; script-src " + base, false},
		{"elem directives win", "style-src 'self'; style-src-elem https://cdn.example; script-src-elem 'self'", true,
			"style-src 'self'; style-src-elem https://cdn.example " + base + "; script-src-elem 'self' " + base, false},
		{"nonce-based scripts get a nonce", "script-src 'nonce-abc' 'unsafe-inline'; style-src 'self'", true,
			"script-src 'nonce-abc' 'unsafe-inline' " + base + " 'nonce-N'; style-src 'self' " + base, true},
		{"hash-based scripts get a nonce", "script-src 'sha256-xyz='", true, "script-src 'sha256-xyz=' " + base + " 'nonce-N'", true},
		{"unsafe-inline alone gets no nonce", "script-src 'self' 'unsafe-inline'", true, "script-src 'self' 'unsafe-inline' " + base, false},
		{"without script only styles", "default-src 'none'; script-src 'strict-dynamic' 'nonce-x'", false,
			"default-src 'none'; script-src 'strict-dynamic' 'nonce-x'; style-src " + base, false},
		{"two policies", "style-src 'self', default-src https:", false, "style-src 'self' " + base + ", default-src https:; style-src https: " + base, false},
		{"case and spacing", "  Style-Src   'SELF' ;; ", false, "style-src 'SELF' " + base, false},
	}
	for _, c := range cases {
		got, used := amendCSP(c.in, base, "N", c.script)
		if got != c.want || used != c.wantNonceNeeded {
			t.Errorf("%s: amendCSP(%q)\n got %q %v\nwant %q %v", c.name, c.in, got, used, c.want, c.wantNonceNeeded)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{"": false, "gzip": true, "br, gzip;q=0.5": true, "gzip;q=0": false, "gzip; q=0.0": false,
		"gzip;q=0.01": true, "*": true, "identity": false, "deflate, br": false, "x-gzip": true} {
		if got := acceptsGzip(ae); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
}

// TestCSPHost: what a client writes in Host beyond a host name and a
// numeric port never reaches the page's CSP.
func TestCSPHost(t *testing.T) {
	for in, want := range map[string]string{"mail.localhost": "mail.localhost", "Mail.LOCALHOST:8443": "mail.localhost:8443",
		"mail.localhost:1;script-src": "mail.localhost", "mail.localhost.:443": "mail.localhost:443", "mail.localhost:": "mail.localhost"} {
		if got := cspHost(in); got != want {
			t.Errorf("cspHost(%q) = %q, want %q", in, got, want)
		}
	}
}

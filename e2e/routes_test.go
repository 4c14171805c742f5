package e2e

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/ca/catest"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// public lists the console routes that need no API token, and why.
var public = map[string]string{
	"GET /":                              "redirects to sign-in",
	"GET /healthz":                       "liveness",
	"GET /readyz":                        "readiness",
	"GET /ca/roots.pem":                  "the root must be fetchable to be trusted",
	"GET /ca/crl":                        "relying parties fetch the CRL",
	"GET /download/agent/:platform":      "the agent binary: public software (console/agent_download_test.go)",
	"GET /setup":                         "guarded by the one-time set-up secret",
	"POST /setup":                        "guarded by the one-time set-up secret",
	"GET /api/v1/openapi.json":           "the API's own description",
	"GET /.well-known/portier/jwks.json": "upstreams verify assertions with it",
	"POST /api/v1/posture/ingest":        "authenticated by the source's HMAC signature (posture tests)",
	"POST /api/v1/agent/enroll":          "authenticated by the enrollment code (enrollment tests)",
	"GET /enroll":                        "a page: sends an unsigned browser to sign in (tested below)",
	"GET /invite":                        "an invitation link: guarded by its secret, for the invited address (people_roles_test.go)",
	"GET /static/:hash/:name":            "the console pages' stylesheet and script: no data",
	"GET /reset_keys":                    "a security-key reset link: guarded by its secret, for the person reset (browser_people_test.go)",
	"GET /help":                          "the user guide: public, for people who cannot sign in (console/page_help_test.go)",
	"GET /help/images/:name":             "the user guide's images: public",
}

// TestEveryConsoleRouteIsGuarded walks the running server's whole route
// table: every route is public for a stated reason, a browser sign-in route
// (/auth/, with its own CSRF and session checks), an agent route (device
// certificate), or refuses a request without a token (401), with an unknown
// token (401) and with a token whose role has no permissions (403).
func TestEveryConsoleRouteIsGuarded(t *testing.T) {
	w := newWorld(t)
	if err := w.srv.Store().Write(context.Background(), store.Put(&store.Token{ID: "tok_nobody", Role: "nobody",
		SecretHash: identity.HashSecret("a-token-whose-role-has-no-permissions"), CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	c := w.browser(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	routes := w.srv.ConsoleRoutes()
	if len(routes) < 30 {
		t.Fatalf("only %d console routes: the walk would prove little", len(routes))
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		if _, ok := public[rt]; ok || strings.HasPrefix(path, "/auth/") {
			continue
		}
		url := w.url("localhost", strings.NewReplacer(":id", "x", ":aid", "x", "*path", "x").Replace(path))
		t.Run(rt, func(t *testing.T) {
			for _, tc := range []struct {
				name, auth string
				want       int
			}{
				{"no token", "", http.StatusUnauthorized},
				{"unknown token", "Bearer not-a-token", http.StatusUnauthorized},
				{"role without permissions", "Bearer a-token-whose-role-has-no-permissions", http.StatusForbidden},
			} {
				req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := tc.want
				switch {
				case strings.HasPrefix(path, "/api/v1/agent/"):
					want = http.StatusUnauthorized // device-certificate routes: no certificate, no entry
				case path == "/api/v1/whoami" && tc.want == http.StatusForbidden:
					want = http.StatusOK // any valid token may ask who it is
				case !strings.HasPrefix(path, "/api/"):
					// A browser form (session cookie + CSRF token): any refusal will do.
					if resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 302 || resp.StatusCode == 303 {
						want = resp.StatusCode
					}
				}
				if resp.StatusCode != want {
					t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, want)
				}
			}
		})
	}
	// Agent routes also refuse a certificate from another CA.
	foreign := w.browser(nil)
	foreign.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{catest.ForeignDevice(t, "dev_fake")}
	resp, err := foreign.Post(w.url("localhost", "/api/v1/agent/posture"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("agent route with a foreign certificate = %d, want 401", resp.StatusCode)
	}
	// The enrollment page sends an unsigned browser to sign in.
	resp, err = c.Get(w.url("localhost", "/enroll"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/auth/sign_in") {
		t.Errorf("/enroll unsigned = %d %q, want a sign-in redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}

package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// public lists the console routes that need no API token, and why.
var public = map[string]string{
	"GET /healthz":                       "liveness",
	"GET /readyz":                        "readiness",
	"GET /ca/roots.pem":                  "the root must be fetchable to be trusted",
	"GET /ca/crl":                        "relying parties fetch the CRL",
	"GET /setup":                         "guarded by the one-time set-up secret",
	"POST /setup":                        "guarded by the one-time set-up secret",
	"GET /api/v1/openapi.json":           "the API's own description",
	"GET /.well-known/portier/jwks.json": "upstreams verify assertions with it",
}

// TestEveryRouteIsGuarded walks the whole route table: every route is
// either listed as public above, is a browser sign-in route (/auth/, which
// has its own CSRF and session checks), is an agent route (device
// certificate), or refuses a request without a token (401) and one whose
// role has no permissions (403).
func TestEveryRouteIsGuarded(t *testing.T) {
	st := storetest.OpenBolt(t)
	now := time.Now()
	for _, tok := range []*store.Token{
		{ID: "tok_none", Role: "nobody", SecretHash: identity.HashSecret("secret-of-a-role-with-nothing"), CreatedAt: now},
	} {
		if err := st.Write(context.Background(), store.Put(tok)); err != nil {
			t.Fatal(err)
		}
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	c := New(Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: time.Now, ExternalURL: "https://localhost",
		Roots: ok, CRL: ok, Ready: func(context.Context) error { return nil }, JWKS: func() []byte { return []byte("{}") },
		Simulate: func(string, proxy.Query) (*proxy.Simulation, error) { return &proxy.Simulation{}, nil }})
	for _, rt := range c.Routes() {
		key := rt.Method + " " + rt.Path
		if _, ok := public[key]; ok || strings.HasPrefix(rt.Path, "/auth/") {
			continue
		}
		path := strings.NewReplacer(":id", "x", "*path", "x").Replace(rt.Path)
		t.Run(key, func(t *testing.T) {
			for _, tc := range []struct {
				name, auth string
				want       int
			}{
				{"no token", "", http.StatusUnauthorized},
				{"unknown token", "Bearer not-a-token", http.StatusUnauthorized},
				{"role without permissions", "Bearer secret-of-a-role-with-nothing", http.StatusForbidden},
			} {
				req := httptest.NewRequest(rt.Method, path, strings.NewReader("{}"))
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, req)
				want := tc.want
				if strings.HasPrefix(rt.Path, "/api/v1/agent/") {
					want = http.StatusUnauthorized // device certificate routes: no certificate, no entry
				} else if rt.Path == "/api/v1/whoami" && tc.want == http.StatusForbidden {
					want = http.StatusOK // any valid token may ask who it is
				}
				if rt.Path == "/api/v1/agent/enroll" {
					continue // authenticated by the enrollment code itself (tested in enrollment)
				}
				if rec.Code != want {
					t.Errorf("%s: %d, want %d (%s)", tc.name, rec.Code, want, rec.Body)
				}
			}
		})
	}
}

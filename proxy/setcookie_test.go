package proxy_test

import (
	"net/http"
	"testing"

	"github.com/portier/portier/store"
)

// TestUpstreamCannotPlantPortierCookies: an application behind Portier
// answers with Set-Cookie lines naming Portier's session and sign-in
// attempt cookies (session fixation: its users would then browse with a
// session of its choosing). The browser receives only the application's
// own cookies, on routes with and without restrictions.
func TestUpstreamCannotPlantPortierCookies(t *testing.T) {
	e := newEnv(t)
	cert := e.device("dev_cookies", store.TrustHigh, store.OwnershipCorporate)
	for _, tc := range []struct {
		host string
		cert bool
	}{{"wiki.localhost", true}, {"files.localhost", false}} { // files: restricted (BYOD) route
		t.Run(tc.host, func(t *testing.T) {
			cookie, _ := e.sessionOn(tc.host, "amy@example.com", "staff")
			c := e.client(nil)
			if tc.cert {
				c = e.client(&cert)
			}
			resp, _ := e.do(c, http.MethodGet, "https://"+tc.host+"/plant-cookies", cookie, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := resp.Header.Values("Set-Cookie")
			if len(got) != 1 || got[0] != "app_pref=dark; Path=/" {
				t.Fatalf("Set-Cookie reaching the browser = %q, want only the application's own cookie", got)
			}
		})
	}
}

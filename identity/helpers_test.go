package identity

import (
	"context"
	"log/slog"
	"net/url"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

const (
	testExternal = "https://portier.localhost:8443"
	testRoute    = "https://wiki.localhost:8443"
)

// testAttemptRef is the reference of a sign-in attempt the proxy started.
var testAttemptRef = HashSecret("attempt cookie of the test browser")

// attempted is a route URL as the proxy sends it to sign in: carrying the
// reference of the browser's attempt cookie.
func attempted(routeURL string) string { return WithAttempt(routeURL, testAttemptRef) }

// testDestination knows one route: wiki.localhost:8443, any path.
func testDestination(u *url.URL) string {
	if u.Scheme == "https" && u.Host == "wiki.localhost:8443" {
		return testRoute
	}
	return ""
}

type fixture struct {
	svc   *Service
	st    *store.Store
	clock *identitytest.Clock
}

func newFixture(t *testing.T, idps ...config.IdP) *fixture {
	t.Helper()
	st := identitytest.OpenStore(t)
	clock := identitytest.NewClock()
	svc, err := New(Options{Store: st, Clock: clock.Now, Log: slog.New(slog.DiscardHandler),
		ExternalURL: testExternal, IdPs: idps, Destination: testDestination})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, st: st, clock: clock}
}

// addUser stores a local account.
func (f *fixture) addUser(t *testing.T, email, password string, mod ...func(*store.User)) *store.User {
	t.Helper()
	u := &store.User{ID: "usr_" + HashSecret(email)[:12], Email: email, CreatedAt: f.clock.Now(), Groups: []string{"staff"}}
	if password != "" {
		h, err := HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		u.PasswordHash = h
	}
	for _, m := range mod {
		m(u)
	}
	if err := f.st.Write(context.Background(), store.Put(u)); err != nil {
		t.Fatal(err)
	}
	return u
}

// audited reports whether an audit event with action exists.
func (f *fixture) audited(action string) bool {
	for _, ev := range f.st.Audit() {
		if ev.Action == action {
			return true
		}
	}
	return false
}

var testClient = ClientInfo{IP: "192.0.2.10", UserAgent: "test"}

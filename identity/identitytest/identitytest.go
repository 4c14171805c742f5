// Package identitytest has test helpers for sign-in: a settable clock, a
// real store in a temporary directory, and an in-process OpenID Connect
// provider (mockoidc) that records what Portier sends it and can be told
// to misbehave.
package identitytest

import (
	"encoding/json"
	"github.com/portier/portier/clocktest"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

type Clock = clocktest.Clock

// NewClock returns a clock at the current second.
func NewClock() *Clock { return clocktest.New() }

// OpenStore opens a store on an embedded file in a temporary directory,
// closed at the end of the test.
func OpenStore(t testing.TB) *store.Store { return storetest.OpenBolt(t) }

// User is a person at the mock provider whose groups can change while a
// test runs.
type User struct {
	Subject string
	Email   string
	// EmailOnlyInUserinfo leaves the email out of the ID token (it is still
	// in the userinfo answer).
	EmailOnlyInUserinfo bool
	// Unverified marks the email as not verified.
	Unverified bool
	// NoVerifiedClaim leaves email_verified out of the ID token and the
	// userinfo answer.
	NoVerifiedClaim bool
	// VerifiedOnlyInUserinfo leaves email_verified out of the ID token only.
	VerifiedOnlyInUserinfo bool

	mu     sync.Mutex
	groups []string
}

var _ mockoidc.User = (*User)(nil)

// NewUser returns a user with groups.
func NewUser(subject, email string, groups ...string) *User {
	return &User{Subject: subject, Email: email, groups: groups}
}

// SetGroups changes the groups the provider reports from now on.
func (u *User) SetGroups(g ...string) {
	u.mu.Lock()
	u.groups = g
	u.mu.Unlock()
}

func (u *User) groupList() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.groups)
}

// ID is the subject.
func (u *User) ID() string { return u.Subject }

// Userinfo is the userinfo answer.
func (u *User) Userinfo(scopes []string) ([]byte, error) {
	m := map[string]any{"sub": u.Subject}
	if slices.Contains(scopes, "email") {
		m["email"] = u.Email
		if !u.NoVerifiedClaim {
			m["email_verified"] = !u.Unverified
		}
	}
	if slices.Contains(scopes, "groups") {
		m["groups"] = u.groupList()
	}
	return json.Marshal(m)
}

type claims struct {
	*mockoidc.IDTokenClaims
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
}

// Claims are the ID token's claims.
func (u *User) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := &claims{IDTokenClaims: base, Name: "Test " + u.Subject}
	if slices.Contains(scopes, "email") && !u.EmailOnlyInUserinfo {
		c.Email = u.Email
		if !u.NoVerifiedClaim && !u.VerifiedOnlyInUserinfo {
			v := !u.Unverified
			c.EmailVerified = &v
		}
	}
	if slices.Contains(scopes, "groups") {
		c.Groups = u.groupList()
	}
	return c, nil
}

// IdP is an in-process OpenID Connect provider over HTTP on loopback.
type IdP struct {
	*mockoidc.MockOIDC

	mu         sync.Mutex
	authorizes []url.Values
	tokens     []url.Values
	nonce      string
}

// StartIdP starts a provider on a loopback port, shut down at the end of
// the test.
func StartIdP(t testing.TB) *IdP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return StartIdPOn(t, ln)
}

// StartIdPOn starts a provider on a listener.
func StartIdPOn(t testing.TB, ln net.Listener) *IdP {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	i := &IdP{MockOIDC: m}
	if err := m.AddMiddleware(i.record); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return i
}

// record keeps the authorize and token requests' parameters, and replaces
// the nonce when told to.
func (i *IdP) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		switch r.URL.Path {
		case mockoidc.AuthorizationEndpoint:
			if i.nonce != "" {
				q := r.URL.Query()
				q.Set("nonce", i.nonce)
				r.URL.RawQuery = q.Encode()
			}
			i.authorizes = append(i.authorizes, r.URL.Query())
		case mockoidc.TokenEndpoint:
			if err := r.ParseForm(); err == nil {
				i.tokens = append(i.tokens, r.PostForm)
			}
		}
		i.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Config is Portier's configuration for this provider.
func (i *IdP) Config(id string, scopes ...string) config.IdP {
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "profile", "groups"}
	}
	return config.IdP{ID: id, Type: "oidc", Name: "Mock " + id, Issuer: i.Issuer(), ClientID: i.ClientID,
		ClientSecret: i.ClientSecret, Scopes: scopes, GroupsClaim: "groups"}
}

// OverrideNonce makes the provider put n in the next ID tokens instead of
// the nonce Portier sent ("" stops it).
func (i *IdP) OverrideNonce(n string) {
	i.mu.Lock()
	i.nonce = n
	i.mu.Unlock()
}

// Authorizations returns the parameters of every authorize request so far.
func (i *IdP) Authorizations() []url.Values {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.authorizes)
}

// TokenRequests returns the form of every token request so far.
func (i *IdP) TokenRequests() []url.Values {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.tokens)
}

// RefuseNextRequest makes the provider's next answer an OAuth2 error, such
// as invalid_grant for a refresh of a user who was removed.
func (i *IdP) RefuseNextRequest(code string) {
	i.QueueError(&mockoidc.ServerError{Code: http.StatusBadRequest, Error: code, Description: "refused by the test"})
}

// Login is what the provider does for a browser: it answers the
// authorization URL with a redirect to Portier's callback, whose URL it
// returns.
func (i *IdP) Login(t testing.TB, authURL string, u *User) *url.URL {
	t.Helper()
	if u != nil {
		i.QueueUser(u)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authorize answered %d (location %v), want a redirect to the callback", resp.StatusCode, err)
	}
	return loc
}

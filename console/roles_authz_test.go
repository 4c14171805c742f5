package console

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// authzCaller is one kind of caller of the authorization test: an API
// token of a role, a browser session (with or without a security-key
// sign-in), or nobody.
type authzCaller struct {
	name string
	role string // the role whose permissions the caller should get ("" = none)
	// token is the bearer secret; cookie the console session cookie.
	token, cookie string
}

// authzConsole is the whole console (API, device registry, sign-in pages)
// on a real store, with a token per role and browser sessions: an
// employee, a security engineer who signed in with a security key, and one
// who did not.
func authzConsole(t *testing.T) (*Console, []authzCaller) {
	t.Helper()
	e := newOpenAPIEnv(t)
	now := time.Now()
	id, err := identity.New(identity.Options{Store: e.st, Clock: time.Now, Log: slog.New(slog.DiscardHandler), ExternalURL: "https://localhost"})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.con.opts
	opts.Identity = id
	con := New(opts)
	var callers []authzCaller
	for _, role := range []string{RoleOwner, RoleAdmin, RoleSecurity, RoleHelpdesk, RoleAuditor} {
		tok := &store.Token{ID: "tok_authz_" + role, Role: role, SecretHash: identity.HashSecret(roleSecret(role)), CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), ServiceAccount: "authz"}
		if err := e.st.Write(context.Background(), store.Put(tok)); err != nil {
			t.Fatal(err)
		}
		callers = append(callers, authzCaller{name: role + " token", role: role, token: roleSecret(role)})
	}
	session := func(name, role string, webauthn bool) authzCaller {
		u := &store.User{ID: "usr_" + name, Email: name + "@example.com", Role: role, CreatedAt: now}
		cookie, sid := identity.NewSessionSecret()
		s := &store.Session{ID: sid, UserID: u.ID, Email: u.Email, IdP: identity.LocalIdP, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		want := ""
		if webauthn {
			s.WebAuthnAt, s.MFAAt, want = now, now, role
		}
		if err := e.st.Write(context.Background(), store.Put(u), store.Put(s)); err != nil {
			t.Fatal(err)
		}
		return authzCaller{name: name + " session", role: want, cookie: cookie}
	}
	callers = append(callers,
		session("employee", "", false),
		session("security-with-key", RoleSecurity, true),
		session("security-without-key", RoleSecurity, false),
		session("admin-with-key", RoleAdmin, true),
		authzCaller{name: "anonymous"})
	return con, callers
}

// request is one request as caller: a browser session's state-changing
// request is same-origin and carries its CSRF token, so only the role
// decides.
func (a authzCaller) request(method, path, body string) *http.Request {
	req := httptest.NewRequest(method, "https://localhost"+path, strings.NewReader(body))
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if a.cookie != "" {
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: a.cookie})
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", "https://localhost")
		req.Header.Set(csrfHeader, identity.CSRFToken(a.cookie))
	}
	return req
}

// callBody sends one request as caller and returns the status and body.
func (a authzCaller) callBody(con *Console, method, path, body string) (int, string) {
	rec := httptest.NewRecorder()
	con.ServeHTTP(rec, a.request(method, path, body))
	return rec.Code, rec.Body.String()
}

// call sends one request without a body and returns the status.
func (a authzCaller) call(con *Console, method, path string) int {
	code, _ := a.callBody(con, method, path, "")
	return code
}

// TestEveryRouteDeclaresItsPermission walks the console's route table
// (every page and API route, including routes added later) with every
// kind of caller. A route must be guarded by require(Perm…) or be listed
// in openRoutes with its reason; a guarded route answers 401 to nobody,
// 403 to a role without the permission (and to a person whose role waits
// for a security key), and anything but 401/403 to a role with it.
func TestEveryRouteDeclaresItsPermission(t *testing.T) {
	con, callers := authzConsole(t)
	routes := con.Routes()
	// Sign-out routes end the callers' sessions: walk them last.
	last := func(p string) bool { return strings.Contains(p, "sign_out") }
	sort.Slice(routes, func(i, j int) bool {
		if li, lj := last(routes[i].Path), last(routes[j].Path); li != lj {
			return lj
		}
		return routes[i].Method+routes[i].Path < routes[j].Method+routes[j].Path
	})
	if len(routes) < 40 {
		t.Fatalf("only %d routes: the test console is missing parts", len(routes))
	}
	var employee authzCaller
	for _, c := range callers {
		if c.name == "employee session" {
			employee = c
		}
	}
	guarded := 0
	for _, r := range routes {
		route := r.Method + " " + r.Path
		path := strings.ReplaceAll(r.Path, ":id", "x")
		t.Run(route, func(t *testing.T) {
			// The employee's request runs the route's guard, which records
			// the permission it checks.
			code := employee.call(con, r.Method, path)
			perm, declared := con.declaredPermission(route)
			why := openRoute(route)
			switch {
			case declared && why != "":
				t.Fatalf("declares %s and is listed as open (%s): choose one", perm, why)
			case !declared && why == "":
				t.Fatalf("declares no permission: guard it with c.require(Perm…) or list it in openRoutes with a reason")
			case !declared:
				return // open: see openRoutes for why
			}
			guarded++
			if code != http.StatusForbidden {
				t.Errorf("employee session: %d, want 403 (employees hold no permission)", code)
			}
			for _, c := range callers {
				got := c.call(con, r.Method, path)
				switch {
				case c.cookie == "" && (c.token == "" || !strings.HasPrefix(r.Path, "/api/")):
					// Pages take no API token: a token is no one there.
					// A page may send the browser to sign in instead.
					rec := httptest.NewRecorder()
					con.ServeHTTP(rec, c.request(r.Method, path, ""))
					toSignIn := (rec.Code == http.StatusFound || rec.Code == http.StatusSeeOther) &&
						strings.Contains(rec.Header().Get("Location"), "/auth/sign_in")
					if rec.Code != http.StatusUnauthorized && !toSignIn {
						t.Errorf("%s: %d, want 401 (or, for a page, a redirect to sign in)", c.name, rec.Code)
					}
				case perms[c.role][perm]:
					if got == http.StatusUnauthorized || got == http.StatusForbidden {
						t.Errorf("%s: %d, but the role has %s", c.name, got, perm)
					}
				default:
					if got != http.StatusForbidden {
						t.Errorf("%s: %d, want 403 (no %s)", c.name, got, perm)
					}
				}
			}
		})
	}
	if guarded < 30 {
		t.Errorf("only %d guarded routes checked", guarded)
	}
	served := map[string]bool{}
	for _, r := range routes {
		served[r.Method+" "+r.Path] = true
	}
	for route := range openRoutes {
		if !served[route] {
			t.Errorf("openRoutes lists %s, which the console does not serve", route)
		}
	}
}

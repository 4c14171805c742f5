package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/store"
)

// apiToken creates an API token with role in the running server's store
// and returns its secret.
func (w *world) apiToken(role string) string {
	w.t.Helper()
	secret, _ := identity.NewSessionSecret()
	tok := &store.Token{ID: "tok_" + role, Name: role, Role: role, SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()}
	if err := w.srv.Store().Write(context.Background(), store.Put(tok)); err != nil {
		w.t.Fatal(err)
	}
	return secret
}

// api calls the console API with a token and decodes the JSON answer.
func (w *world) api(c *http.Client, token, method, path, body string, out any) int {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.url("localhost", path), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestAdminEndsSessionsAndDisablesUser is the help desk's and the admin's
// view: a signed-in employee is signed out everywhere through the API, and
// then disabled; the proxy refuses their next request each time, a
// disabled user cannot sign in again, and every step is audited.
func TestAdminEndsSessionsAndDisablesUser(t *testing.T) {
	w := newWorld(t)
	cert := w.enrolledDevice("dev_bob", store.TrustHigh)
	laptop := w.browser(cert)
	noFollow := *laptop
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	signIn := func(what string) {
		t.Helper()
		w.idp.QueueUser(identitytest.NewUser("sub-bob", "bob@example.com", "staff"))
		if resp, body := get(t, laptop, "GET", w.url("app.localhost", "/")); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s\n%s", what, resp.StatusCode, resp.Request.URL, body)
		}
	}
	signedOut := func(what string) {
		t.Helper()
		resp, _ := get(t, &noFollow, "GET", w.url("app.localhost", "/"))
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/auth/sign_in") {
			t.Errorf("%s: the next request got %d %q, want a redirect to sign in", what, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	signIn("first sign-in")

	helpdesk, admin := w.apiToken("helpdesk"), w.apiToken("admin")
	api := w.browser(nil)
	var list struct {
		Users []struct {
			ID       string
			Sessions int
			Disabled bool
		}
	}
	if code := w.api(api, helpdesk, "GET", "/api/v1/users?email=bob@example.com", "", &list); code != 200 || len(list.Users) != 1 || list.Users[0].Sessions < 2 {
		t.Fatalf("users = %d %+v, want bob with a console and a route session", code, list)
	}
	bob := list.Users[0].ID

	// The help desk signs Bob out everywhere.
	var ended struct{ Ended int }
	if code := w.api(api, helpdesk, "POST", "/api/v1/users/"+bob+"/sign_out", "", &ended); code != 200 || ended.Ended < 2 {
		t.Fatalf("sign out = %d %+v", code, ended)
	}
	signedOut("after the help desk signed Bob out")

	// He signs in again; the help desk may not disable him, an admin may.
	signIn("sign-in after being signed out")
	if code := w.api(api, helpdesk, "POST", "/api/v1/users/"+bob+"/disable", `{"reason":"left the company"}`, nil); code != 403 {
		t.Errorf("help desk disabling a user = %d, want 403", code)
	}
	if code := w.api(api, admin, "POST", "/api/v1/users/"+bob+"/disable", `{"reason":"left the company"}`, nil); code != 200 {
		t.Fatalf("disable = %d", code)
	}
	signedOut("after Bob was disabled")
	w.idp.QueueUser(identitytest.NewUser("sub-bob", "bob@example.com", "staff"))
	if resp, body := get(t, laptop, "GET", w.url("app.localhost", "/")); resp.StatusCode != 403 || !strings.Contains(body, "disabled") {
		t.Errorf("a disabled user signing in: %d\n%s", resp.StatusCode, body)
	}

	// Enabled again, he can sign in.
	if code := w.api(api, admin, "POST", "/api/v1/users/"+bob+"/enable", "", nil); code != 200 {
		t.Fatalf("enable = %d", code)
	}
	signIn("sign-in after being enabled again")

	var audit struct {
		Events []struct{ Actor, Action, Target string }
	}
	w.api(api, admin, "GET", "/api/v1/audit", "", &audit)
	want := map[string]string{"session.ended": "token:tok_helpdesk", "user.disabled": "token:tok_admin", "user.enabled": "token:tok_admin"}
	for _, ev := range audit.Events {
		if actor, ok := want[ev.Action]; ok && ev.Actor == actor && ev.Target == bob {
			delete(want, ev.Action)
		}
	}
	if len(want) > 0 {
		t.Errorf("not audited: %v", want)
	}
}

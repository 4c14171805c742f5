package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// signedInUser stores a user with a console role (or none) who is signed
// in: a console session and a route session handed off from it. It
// returns the user id and the console session's id.
func (w *world) signedInUser(id, role string) (string, string) {
	w.t.Helper()
	now := time.Now()
	u := &store.User{ID: id, Email: id + "@example.com", Role: role, CreatedAt: now}
	_, consoleID := identity.NewSessionSecret()
	_, routeID := identity.NewSessionSecret()
	console := &store.Session{ID: consoleID, UserID: id, Email: u.Email, IdP: "local", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	route := *console
	route.ID, route.ParentID, route.Host = routeID, consoleID, "files.localhost"
	if err := w.srv.Store().Write(context.Background(), store.Put(u), store.Put(console), store.Put(&route)); err != nil {
		w.t.Fatal(err)
	}
	return id, consoleID
}

// TestRankRuleOnEveryUserAction is the help desk (or an admin) turning on
// someone more powerful: signing an owner or admin out, ending one of
// their sessions, disabling them. Every user and session action follows
// one rule — a caller never acts on a more powerful role — checked over the
// API for each role pair that matters; a refused action leaves the
// target's sessions and account as they were.
func TestRankRuleOnEveryUserAction(t *testing.T) {
	w := newWorld(t)
	api := w.browser(nil)
	tokens := map[string]string{}
	for _, role := range []string{"owner", "admin", "helpdesk"} {
		tokens[role] = w.apiToken(role)
	}
	type action struct {
		name string
		do   func(token, userID, sessionID string) int
		perm map[string]bool // caller roles that hold the permission at all
	}
	actions := []action{
		{"sign out everywhere", func(tok, u, _ string) int {
			return w.api(api, tok, "POST", "/api/v1/users/"+u+"/sign_out", "", nil)
		}, map[string]bool{"owner": true, "admin": true, "helpdesk": true}},
		{"end one session", func(tok, _, s string) int {
			return w.api(api, tok, "DELETE", "/api/v1/sessions/"+s, "", nil)
		}, map[string]bool{"owner": true, "admin": true, "helpdesk": true}},
		{"disable", func(tok, u, _ string) int {
			return w.api(api, tok, "POST", "/api/v1/users/"+u+"/disable", `{"reason":"test"}`, nil)
		}, map[string]bool{"owner": true, "admin": true}},
	}
	rank := map[string]int{"owner": 4, "admin": 3, "helpdesk": 2, "": 0}
	n := 0
	for _, a := range actions {
		for _, caller := range []string{"helpdesk", "admin", "owner"} {
			for _, target := range []string{"owner", "admin", "helpdesk", ""} {
				n++
				name := fmt.Sprintf("%s/%s on %q", a.name, caller, target)
				t.Run(name, func(t *testing.T) {
					userID, sessionID := w.signedInUser(fmt.Sprintf("usr_rank%d", n), target)
					allowed := a.perm[caller] && rank[target] <= rank[caller]
					code := a.do(tokens[caller], userID, sessionID)
					_, sessionLeft := w.srv.Store().Session(sessionID)
					u, _ := w.srv.Store().User(userID)
					switch {
					case allowed && (code < 200 || code > 299 || sessionLeft):
						t.Errorf("= %d, session left %v; want it done", code, sessionLeft)
					case !allowed && (code != http.StatusForbidden || !sessionLeft || u.Disabled):
						t.Errorf("= %d, session left %v, disabled %v; want 403 and nothing changed", code, sessionLeft, u.Disabled)
					}
				})
			}
		}
	}
}

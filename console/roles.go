package console

import (
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// FreshCheck is how recent a browser session's security-key check must be
// for a change that weakens access or destroys data (see requireFresh).
const FreshCheck = 5 * time.Minute

// consoleRole is the one rule of the role a browser session may use: the
// person's role (heldRole) counts only in a session that completed a
// WebAuthn ceremony with a security key or passkey — at sign-in, or by a
// step-up (store.Session.WebAuthnAt). Otherwise the person is treated as a
// plain employee ("") and is told to register or use their key. A password
// or an identity provider alone never opens the console's powers.
func consoleRole(u *store.User, s *store.Session) string {
	if s == nil || s.WebAuthnAt.IsZero() {
		return ""
	}
	return heldRole(u, s)
}

// heldRole is the role a person holds in a session: the more powerful of
// the account's own (local) role and the roles their identity provider's
// groups mapped to at sign-in (store.Session.Roles). A disabled account, or
// a session of another account, holds none.
func heldRole(u *store.User, s *store.Session) string {
	if u == nil || s == nil || u.Disabled || s.UserID != u.ID {
		return ""
	}
	role := u.Role
	for _, r := range s.Roles {
		if ValidRole(r) && roleRank(r) > roleRank(role) {
			role = r
		}
	}
	if !ValidRole(role) {
		return ""
	}
	return role
}

// requireFresh guards a change that weakens access or destroys data (wipe,
// retire, revoke, ownership, re-enabling an account, role grants,
// invitations, token creation): from a browser session, the session must
// have passed a security-key check within FreshCheck. API tokens are
// exempt — automation cannot touch a key, and a token is already a secret
// held outside the browser — and their use is audited with the token and
// its owner (see tokenActor).
func (c *Console) requireFresh(g *gin.Context) {
	p := who(g)
	if p.Session != nil && !keyCheckFresh(p.Session, c.now()) {
		c.fail(g, apperr.New(apperr.Forbidden,
			"this change needs a security-key check less than 5 minutes old: confirm with your key at /auth/step_up, then try again"))
		return
	}
	g.Next()
}

// keyCheckFresh tells whether a browser session passed a security-key
// check within FreshCheck of now.
func keyCheckFresh(s *store.Session, now time.Time) bool {
	return !s.WebAuthnAt.IsZero() && now.Sub(s.WebAuthnAt) <= FreshCheck
}

// declare records that a route ("METHOD /path") is guarded by p. Routes
// declare their permission through require; declared lists them for the
// authorization test, which fails for a route with neither a permission
// nor a place in openRoutes.
func (c *Console) declare(route string, p Permission) {
	if _, ok := c.declared.Load(route); !ok {
		c.declared.Store(route, p)
	}
}

// declaredPermission returns the permission recorded for a route.
func (c *Console) declaredPermission(route string) (Permission, bool) {
	v, ok := c.declared.Load(route)
	if !ok {
		return "", false
	}
	return v.(Permission), true
}

// forbiddenField is a 403 naming the request field at fault (a role above
// the caller's, a service account a non-admin may not name).
func forbiddenField(field, format string, args ...any) error {
	e := apperr.New(apperr.Forbidden, format, args...)
	e.Field = field
	return e
}

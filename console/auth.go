package console

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// Roles, most powerful first. Each role has the permissions of those below it
// except where noted in perms.
const (
	RoleOwner    = "owner"
	RoleAdmin    = "admin"
	RoleSecurity = "security"
	RoleHelpdesk = "helpdesk"
	RoleAuditor  = "auditor"
)

// Permission is one thing a role may do.
type Permission string

// Permissions checked by routes.
const (
	PermTokensRead Permission = "tokens:read"
	// PermTokensWrite creates API tokens (for oneself, with a role no
	// higher than one's own) and revokes tokens of roles no higher.
	PermTokensWrite Permission = "tokens:write"
	// PermRolesWrite gives people console roles: invitations and role
	// changes, never above the caller's own role.
	PermRolesWrite Permission = "roles:write"
	PermAuditRead  Permission = "audit:read"
	// PermPolicySimulate runs the what-if simulator (reads policies only).
	PermPolicySimulate Permission = "policy:simulate"
	// Device registry: read the inventory and enrollment codes; create
	// codes, tokens and expected devices; run non-destructive actions
	// (lock, message, recollect, quarantine, release); run destructive
	// ones (wipe, selective_wipe, revoke, retire); read the KPIs.
	PermDevicesRead Permission = "devices:read"
	PermEnrollRead  Permission = "enrollment:read"
	PermEnrollWrite Permission = "enrollment:write"
	PermDevicesAct  Permission = "devices:act"
	PermDevicesWipe Permission = "devices:wipe"
	PermKPIRead     Permission = "kpis:read"
	// People: read users and their sessions; end sessions (sign a user
	// out everywhere, or one session); disable and enable users.
	PermUsersRead   Permission = "users:read"
	PermSessionsEnd Permission = "sessions:end"
	PermUsersWrite  Permission = "users:write"
	// PermKeysReset resets a person's security keys after verifying who
	// they are (keyreset.go), within mayResetKeys's rank rule.
	PermKeysReset Permission = "users:reset_keys"
	// Access rules: read routes, policies and their versions; change them
	// (create, edit, delete, roll back, promote); read recorded access
	// decisions and run impact replays over them.
	PermRulesRead     Permission = "rules:read"
	PermRulesWrite    Permission = "rules:write"
	PermDecisionsRead Permission = "decisions:read"
	// PermClusterRead lists the replicas of a cluster and their lag.
	PermClusterRead Permission = "cluster:read"
	// Rollout plans: read plans and their per-wave progress; create,
	// change, pause, resume and delete plans and enter their tickets.
	PermRolloutRead  Permission = "rollout:read"
	PermRolloutWrite Permission = "rollout:write"
)

var perms = map[string]map[Permission]bool{
	RoleOwner: {PermTokensRead: true, PermTokensWrite: true, PermRolesWrite: true, PermAuditRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermEnrollWrite: true, PermDevicesAct: true, PermDevicesWipe: true, PermKPIRead: true,
		PermUsersRead: true, PermSessionsEnd: true, PermUsersWrite: true, PermKeysReset: true,
		PermRulesRead: true, PermRulesWrite: true, PermDecisionsRead: true, PermClusterRead: true,
		PermRolloutRead: true, PermRolloutWrite: true},
	RoleAdmin: {PermTokensRead: true, PermTokensWrite: true, PermRolesWrite: true, PermAuditRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermEnrollWrite: true, PermDevicesAct: true, PermDevicesWipe: true, PermKPIRead: true,
		PermUsersRead: true, PermSessionsEnd: true, PermUsersWrite: true, PermKeysReset: true,
		PermRulesRead: true, PermRulesWrite: true, PermDecisionsRead: true, PermClusterRead: true,
		PermRolloutRead: true, PermRolloutWrite: true},
	// The security team tunes access: routes, policies, the simulator and
	// the decision data, and reads everything else; it acts on no device
	// and no account.
	RoleSecurity: {PermTokensRead: true, PermTokensWrite: true, PermAuditRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermKPIRead: true, PermUsersRead: true,
		PermRulesRead: true, PermRulesWrite: true, PermDecisionsRead: true, PermClusterRead: true,
		PermRolloutRead: true},
	// The help desk helps people: devices, users and sessions, but no wipe
	// and no access rule.
	RoleHelpdesk: {PermTokensWrite: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermEnrollWrite: true, PermDevicesAct: true, PermKPIRead: true,
		PermUsersRead: true, PermSessionsEnd: true, PermKeysReset: true},
	RoleAuditor: {PermAuditRead: true, PermTokensRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermKPIRead: true,
		PermUsersRead: true, PermRulesRead: true, PermDecisionsRead: true, PermClusterRead: true,
		PermRolloutRead: true},
}

// mayActOn is the one rank rule of every action on a user or a session
// (sign out, end a session, disable, enable): a caller never acts on an
// account whose role is more powerful than its own. Equal roles may act on
// each other; employees (no role) rank lowest.
func mayActOn(caller, target string) bool { return roleRank(target) <= roleRank(caller) }

// actOn applies mayActOn for the caller of g to the account userID (a user
// that no longer exists ranks as an employee); when it refuses, it fails the
// request with 403 and returns false.
func (c *Console) actOn(g *gin.Context, userID, what string) bool {
	if err := c.rankCheck(g, userID, what); err != nil {
		c.fail(g, err)
		return false
	}
	return true
}

// rankCheck is actOn's rule as an error (nil when the caller may act), for
// the pages and the API alike.
func (c *Console) rankCheck(g *gin.Context, userID, what string) error {
	target := ""
	if u, ok := c.opts.Store.User(userID); ok {
		target = u.Role
	}
	if caller := who(g).Role; !mayActOn(caller, target) {
		return apperr.New(apperr.Forbidden, "your role (%s) may not %s an account with the more powerful role %s", caller, what, target)
	}
	return nil
}

// roleRank orders roles by power: owner highest, no role lowest.
func roleRank(role string) int {
	switch role {
	case RoleOwner:
		return 5
	case RoleAdmin:
		return 4
	case RoleSecurity:
		return 3
	case RoleHelpdesk:
		return 2
	case RoleAuditor:
		return 1
	}
	return 0
}

// ValidRole reports whether r names a console role.
func ValidRole(r string) bool { _, ok := perms[r]; return ok }

// principal is who is calling: an API token (with the person or service
// account it belongs to) or a signed-in browser session.
type principal struct {
	Actor string // for the audit log
	Role  string // the role in force for this request ("" = employee)
	Token *store.Token
	// Session and User are set for a browser session.
	Session *store.Session
	User    *store.User
	// Held is the role the person holds but may not use in this session
	// because it did not use a security key or passkey (see consoleRole).
	Held string
}

const principalKey = "portier.principal"

// authenticate finds the caller of an API request: an API token in
// `Authorization: Bearer <secret>`, else the browser's console session
// (state-changing requests must then be same-origin and carry the
// session's CSRF token in X-CSRF-Token).
func (c *Console) authenticate(g *gin.Context) {
	if g.GetHeader("Authorization") == "" && c.opts.Identity != nil {
		if cookie := cookieValue(g, identity.SessionCookie); cookie != "" {
			c.authenticateSession(g, cookie)
			return
		}
	}
	c.authenticateToken(g)
}

// authenticateToken authenticates `Authorization: Bearer <secret>`. A
// token whose person is disabled or deleted no longer works.
func (c *Console) authenticateToken(g *gin.Context) {
	h := g.GetHeader("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		g.Header("WWW-Authenticate", `Bearer realm="portier"`)
		c.fail(g, apperr.New(apperr.Unauthenticated, "send an API token as Authorization: Bearer <token>, or sign in"))
		return
	}
	tok, ok := c.opts.Store.TokenBySecretHash(identity.HashSecret(secret))
	if ok && tok.OwnerID != "" {
		u, found := c.opts.Store.User(tok.OwnerID)
		ok = found && !u.Disabled
	}
	if !ok || (!tok.ExpiresAt.IsZero() && !c.now().Before(tok.ExpiresAt)) {
		g.Header("WWW-Authenticate", `Bearer realm="portier", error="invalid_token"`)
		c.fail(g, apperr.New(apperr.Unauthenticated, "the API token is unknown, revoked or expired, or its owner is disabled"))
		return
	}
	g.Set(principalKey, &principal{Actor: tokenActor(tok), Role: tok.Role, Token: tok})
	g.Next()
}

// authenticateSession authenticates a browser's console session cookie.
func (c *Console) authenticateSession(g *gin.Context, cookie string) {
	sess, ok := c.opts.Identity.SessionFor(g.Request.Context(), cookie)
	u, found := (*store.User)(nil), false
	if ok {
		u, found = c.opts.Store.User(sess.UserID)
	}
	if !ok || !found || u.Disabled {
		c.fail(g, apperr.New(apperr.Unauthenticated, "your session ended: sign in again"))
		return
	}
	switch g.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if c.crossSite(g) {
			c.refuseForgery(g)
			return
		}
		if !csrfOK(g, cookie) {
			c.fail(g, apperr.New(apperr.Forbidden, "send the page's CSRF token in the X-CSRF-Token header: reload the page and try again"))
			return
		}
	}
	p := &principal{Actor: "user:" + u.Email, Role: consoleRole(u, sess), Session: sess, User: u}
	if held := heldRole(u, sess); held != p.Role {
		p.Held = held
	}
	g.Set(principalKey, p)
	g.Next()
}

// tokenActor is how the audit log names a token's caller: its person or
// service account and the token ("alice@example.com via token tok_…"); a
// token made before tokens had owners is "token:<id>".
func tokenActor(t *store.Token) string {
	if owner := tokenOwnerName(t); owner != "" {
		return owner + " via token " + t.ID
	}
	return "token:" + t.ID
}

// tokenOwnerName names a token's owner as the audit log names actors:
// "user:<email>" or "service:<name>"; "" for a token without an owner.
func tokenOwnerName(t *store.Token) string {
	switch {
	case t.OwnerEmail != "":
		return "user:" + t.OwnerEmail
	case t.ServiceAccount != "":
		return "service:" + t.ServiceAccount
	}
	return ""
}

// require lets the request through only if the caller's role has p. It
// also records p as the permission of the route (see declared), which the
// authorization test checks for every route.
func (c *Console) require(p Permission) gin.HandlerFunc {
	return func(g *gin.Context) {
		c.declare(g.Request.Method+" "+g.FullPath(), p)
		caller := who(g)
		if !perms[caller.Role][p] {
			c.fail(g, refusal(caller, p))
			return
		}
		g.Next()
	}
}

// refusal is the 403 of a role without a permission; a person whose role
// waits for a security-key sign-in is told so.
func refusal(caller *principal, p Permission) error {
	role := caller.Role
	if role == "" {
		role = "employee"
	}
	if caller.Held != "" && perms[caller.Held][p] {
		return apperr.New(apperr.Forbidden, "your role %s works only in a session signed in with your security key or passkey: "+
			"register one at /auth/security_keys, then confirm with it at /auth/step_up (this session counts as %s)", caller.Held, role)
	}
	return apperr.New(apperr.Forbidden, "your role (%s) does not allow %s", role, p)
}

func who(g *gin.Context) *principal {
	if v, ok := g.Get(principalKey); ok {
		return v.(*principal)
	}
	return &principal{Actor: "anonymous"}
}

// audit returns the audit event for an action by the caller, to be written in
// the same transaction as the change.
func (c *Console) audit(g *gin.Context, action, target string, detail map[string]string) store.Op {
	ev := store.NewAuditEvent(c.now(), who(g).Actor, action, target)
	ev.RemoteIP = g.ClientIP()
	if t := who(g).Token; t != nil {
		// The token stays machine-readable beside the actor's words.
		if detail == nil {
			detail = map[string]string{}
		}
		detail["token"] = t.ID
	}
	ev.Detail = detail
	return store.Put(ev)
}

package console

import (
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
	PermTokensRead  Permission = "tokens:read"
	PermTokensWrite Permission = "tokens:write"
	PermAuditRead   Permission = "audit:read"
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
	// Access rules: read routes, policies and their versions; change them
	// (create, edit, delete, roll back, promote); read recorded access
	// decisions and run impact replays over them.
	PermRulesRead     Permission = "rules:read"
	PermRulesWrite    Permission = "rules:write"
	PermDecisionsRead Permission = "decisions:read"
	// PermClusterRead lists the replicas of a cluster and their lag.
	PermClusterRead Permission = "cluster:read"
)

var perms = map[string]map[Permission]bool{
	RoleOwner: {PermTokensRead: true, PermTokensWrite: true, PermAuditRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermEnrollWrite: true, PermDevicesAct: true, PermDevicesWipe: true, PermKPIRead: true,
		PermUsersRead: true, PermSessionsEnd: true, PermUsersWrite: true,
		PermRulesRead: true, PermRulesWrite: true, PermDecisionsRead: true, PermClusterRead: true},
	RoleAdmin: {PermTokensRead: true, PermAuditRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermEnrollWrite: true, PermDevicesAct: true, PermDevicesWipe: true, PermKPIRead: true,
		PermUsersRead: true, PermSessionsEnd: true, PermUsersWrite: true,
		PermRulesRead: true, PermRulesWrite: true, PermDecisionsRead: true, PermClusterRead: true},
	// The security team tunes access: routes, policies, the simulator and
	// the decision data, and reads everything else; it acts on no device
	// and no account.
	RoleSecurity: {PermTokensRead: true, PermAuditRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermKPIRead: true, PermUsersRead: true,
		PermRulesRead: true, PermRulesWrite: true, PermDecisionsRead: true, PermClusterRead: true},
	// The help desk helps people: devices, users and sessions, but no wipe
	// and no access rule.
	RoleHelpdesk: {PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermEnrollWrite: true, PermDevicesAct: true, PermKPIRead: true,
		PermUsersRead: true, PermSessionsEnd: true},
	RoleAuditor: {PermAuditRead: true, PermTokensRead: true, PermPolicySimulate: true,
		PermDevicesRead: true, PermEnrollRead: true, PermKPIRead: true,
		PermUsersRead: true, PermRulesRead: true, PermDecisionsRead: true, PermClusterRead: true},
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
	target := ""
	if u, ok := c.opts.Store.User(userID); ok {
		target = u.Role
	}
	if caller := who(g).Role; !mayActOn(caller, target) {
		c.fail(g, apperr.New(apperr.Forbidden, "your role (%s) may not %s an account with the more powerful role %s", caller, what, target))
		return false
	}
	return true
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

// principal is who is calling: an API token for now (browser sessions come
// with sign-in).
type principal struct {
	Actor string // for the audit log
	Role  string
	Token *store.Token
}

const principalKey = "portier.principal"

// requireToken authenticates `Authorization: Bearer <secret>`.
func (c *Console) requireToken(g *gin.Context) {
	h := g.GetHeader("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		g.Header("WWW-Authenticate", `Bearer realm="portier"`)
		c.fail(g, apperr.New(apperr.Unauthenticated, "send an API token as Authorization: Bearer <token>"))
		return
	}
	tok, ok := c.opts.Store.TokenBySecretHash(identity.HashSecret(secret))
	if !ok || (!tok.ExpiresAt.IsZero() && !c.now().Before(tok.ExpiresAt)) {
		g.Header("WWW-Authenticate", `Bearer realm="portier", error="invalid_token"`)
		c.fail(g, apperr.New(apperr.Unauthenticated, "the API token is unknown, revoked or expired"))
		return
	}
	g.Set(principalKey, &principal{Actor: "token:" + tok.ID, Role: tok.Role, Token: tok})
	g.Next()
}

// require lets the request through only if the caller's role has p.
func (c *Console) require(p Permission) gin.HandlerFunc {
	return func(g *gin.Context) {
		if !perms[who(g).Role][p] {
			c.fail(g, apperr.New(apperr.Forbidden, "your role (%s) does not allow %s", who(g).Role, p))
			return
		}
		g.Next()
	}
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
	ev.Detail = detail
	return store.Put(ev)
}

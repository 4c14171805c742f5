package console

import (
	"github.com/gin-gonic/gin"
	"github.com/portier/portier/store"
)

// pageUserKey caches the browser's principal on the request.
const pageUserKey = "portier.pageuser"

// pageUserInfo is the person behind a browser request: their live console
// session (and its cookie), their user record and the role they act with.
type pageUserInfo struct {
	Session *store.Session
	Cookie  string
	User    *store.User
	Role    string
}

// pageUser returns the signed-in person of a browser request; false when
// signed out, when signing in is not served, or when the session's user
// no longer exists or is disabled (fail closed).
func (c *Console) pageUser(g *gin.Context) (*pageUserInfo, bool) {
	if v, ok := g.Get(pageUserKey); ok {
		pu, _ := v.(*pageUserInfo)
		return pu, pu != nil
	}
	var pu *pageUserInfo
	if c.opts.Identity != nil {
		if s, cookie, ok := c.session(g); ok {
			if u, ok := c.opts.Store.User(s.UserID); ok && !u.Disabled {
				pu = &pageUserInfo{Session: s, Cookie: cookie, User: u, Role: consoleRole(u, s)}
			}
		}
	}
	g.Set(pageUserKey, pu)
	return pu, pu != nil
}

// requirePage lets a browser through only when a person is signed in and
// their role has p ("" for any signed-in person): otherwise the sign-in
// page, or the 403 page. The person becomes the request's principal, so
// what they change is audited in their name.
func (c *Console) requirePage(p Permission) gin.HandlerFunc {
	return func(g *gin.Context) {
		pu, ok := c.pageUser(g)
		if !ok {
			c.toSignIn(g)
			return
		}
		caller := &principal{Actor: "user:" + pu.User.Email, Role: pu.Role, Session: pu.Session, User: pu.User}
		if held := heldRole(pu.User, pu.Session); held != pu.Role {
			caller.Held = held
		}
		if p != "" {
			c.declare(g.Request.Method+" "+g.FullPath(), p)
			if !perms[pu.Role][p] {
				c.opts.Log.Info("console: page refused to role", "path", g.Request.URL.Path, "role", pu.Role, "permission", p)
				msg := ""
				if caller.Held != "" && perms[caller.Held][p] {
					msg = "error.role_needs_key" // the role waits for a security key
				}
				c.pageError(g, refusal(caller, p), msg)
				return
			}
		}
		g.Set(principalKey, caller)
		g.Next()
	}
}

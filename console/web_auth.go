package console

import (
	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
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
				pu = &pageUserInfo{Session: s, Cookie: cookie, User: u, Role: pageRole(u, s)}
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
		if p != "" && !perms[pu.Role][p] {
			c.opts.Log.Info("console: page refused to role", "path", g.Request.URL.Path, "role", pu.Role, "permission", p)
			c.failPage(g, apperr.New(apperr.Forbidden, "your role (%s) does not allow %s", pu.Role, p))
			return
		}
		g.Set(principalKey, &principal{Actor: "user:" + pu.Session.Email, Role: pu.Role})
		g.Next()
	}
}

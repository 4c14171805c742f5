package console

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// csrfField and csrfHeader carry the CSRF token of forms and XHRs.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// cookieValue returns a request cookie's value, "" if absent.
func cookieValue(g *gin.Context, name string) string {
	v, err := g.Cookie(name)
	if err != nil {
		return ""
	}
	return v
}

// flowCookie returns the browser's pre-sign-in cookie, setting a new one
// when it has none.
func (c *Console) flowCookie(g *gin.Context) string {
	if v := cookieValue(g, identity.FlowCookie); v != "" && len(v) <= 128 {
		return v
	}
	v := identity.NewFlowSecret()
	http.SetCookie(g.Writer, identity.FlowCookieFor(v, c.now()))
	return v
}

// session returns the browser's live console session and its cookie.
func (c *Console) session(g *gin.Context) (*store.Session, string, bool) {
	cookie := cookieValue(g, identity.SessionCookie)
	s, ok := c.opts.Identity.SessionFor(g.Request.Context(), cookie)
	return s, cookie, ok
}

// sameOrigin refuses state-changing requests that a browser marks as coming
// from another site (Sec-Fetch-Site) or another origin (Origin). Requests
// without those headers (old browsers, scripts) still need the CSRF token.
//
// Our pages send Referrer-Policy: no-referrer, under which browsers send
// "Origin: null" even on a same-origin form post; Sec-Fetch-Site (which
// pages cannot forge) then says whether it really came from us.
func (c *Console) sameOrigin(g *gin.Context) {
	if c.crossSite(g) {
		c.refuseForgery(g)
		return
	}
	g.Next()
}

// crossSite reports whether the browser marks the request as coming from
// another site or origin (the check of sameOrigin).
func (c *Console) crossSite(g *gin.Context) bool {
	site := g.GetHeader("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return true
	}
	origin := strings.TrimSuffix(c.opts.ExternalURL, "/")
	if c.opts.Identity != nil {
		origin = c.opts.Identity.Origin()
	}
	o := g.GetHeader("Origin")
	return o != "" && o != origin && !(o == "null" && site == "same-origin")
}

func (c *Console) refuseForgery(g *gin.Context) {
	c.opts.Log.Warn("console: cross-site request refused", "path", g.Request.URL.Path,
		"origin", g.GetHeader("Origin"), "sec_fetch_site", g.GetHeader("Sec-Fetch-Site"))
	c.pageError(g, apperr.New(apperr.Forbidden, "This request came from another site and was refused. Reload the page and try again."), "error.csrf")
}

// csrfOK checks the request's CSRF token (form field or header) against
// the cookie value secret it is derived from.
func csrfOK(g *gin.Context, secret string) bool {
	tok := g.GetHeader(csrfHeader)
	if tok == "" {
		tok = g.PostForm(csrfField)
	}
	return identity.CheckCSRF(secret, tok)
}

// client is what the audit log and the rate limits know of the caller: the
// peer address (X-Forwarded-For is not trusted here).
func client(g *gin.Context) identity.ClientInfo {
	return identity.ClientInfo{IP: g.RemoteIP(), UserAgent: g.Request.UserAgent()}
}

// setSession gives the browser a new console session cookie, ending the
// session it replaces.
func (c *Console) setSession(g *gin.Context, si *identity.SignIn) {
	if old := cookieValue(g, identity.SessionCookie); old != "" && old != si.Cookie {
		if err := c.opts.Identity.SignOut(g.Request.Context(), old, client(g)); err != nil {
			c.opts.Log.Warn("console: cannot end the replaced session", "err", err)
		}
	}
	http.SetCookie(g.Writer, identity.SessionCookieFor(si.Cookie, si.Session.ExpiresAt))
}

package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
)

// pageCSP is the Content-Security-Policy of every console page: scripts
// and styles only from the console's own static files (no inline script,
// no inline style), nothing from anywhere else, forms post only here, and
// no one may frame a page or change its base URL.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pageHeaders sets the security headers every console page carries.
func pageHeaders(g *gin.Context) {
	h := g.Writer.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if g.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// pageSecurity is the one middleware of the browser page group (the API
// group is apart: token-authenticated JSON). It sets the security headers
// on every response, bounds form bodies, and refuses every state-changing
// request that a browser marks as cross-site (sameOrigin) or that lacks
// the CSRF token of the browser's session cookie (signed in) or flow
// cookie (before sign-in), in the form field csrf or the X-CSRF-Token
// header.
func (c *Console) pageSecurity(g *gin.Context) {
	pageHeaders(g)
	switch g.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		g.Next()
		return
	}
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	if err := g.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.failPage(g, apperr.New(apperr.TooLarge, "the form is larger than %d bytes", maxFormBytes))
			return
		}
		c.failPage(g, apperr.New(apperr.Invalid, "the form could not be read"))
		return
	}
	if c.crossSite(g) {
		c.refuseForgery(g)
		return
	}
	if !csrfOK(g, cookieValue(g, identity.SessionCookie)) && !csrfOK(g, cookieValue(g, identity.FlowCookie)) {
		c.opts.Log.Info("console: request without a valid CSRF token refused", "method", g.Request.Method, "path", g.Request.URL.Path)
		c.pageError(g, apperr.New(apperr.Forbidden, "This page expired. Reload it and try again."), "error.csrf")
		return
	}
	g.Next()
}

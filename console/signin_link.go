package console

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
)

// linkStart starts linking the signed-in user's account at identity
// provider :id (the "Link my … account" button of the security page): the
// browser signs in there and comes back to the OIDC callback, which links
// the provider's account to this user.
func (c *Console) linkStart(g *gin.Context) {
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, maxFormBytes)
	sess, cookie, ok := c.session(g)
	if !ok || !csrfOK(g, cookie) {
		c.renderError(g, "title.link", apperr.New(apperr.Forbidden, "Your session ended or this page expired. Sign in again."))
		return
	}
	dest, err := c.opts.Identity.StartLink(g.Request.Context(), sess, g.Param("id"), c.flowCookie(g), client(g))
	if err != nil {
		c.renderKeys(g, apperr.Status(err), sess.UserID, sess.Email, cookie, "", apperr.ToBody(err).Error.Message, c.opts.Identity.Fresh(sess))
		return
	}
	g.Header("Cache-Control", "no-store")
	g.Redirect(http.StatusSeeOther, dest)
}

// linkProviders are the configured providers not yet linked to a user.
func linkProviders(id *identity.Service, links []identity.LinkInfo) []identity.ProviderInfo {
	var out []identity.ProviderInfo
	for _, p := range id.Providers() {
		linked := false
		for _, l := range links {
			linked = linked || l.Provider == p.ID
		}
		if !linked {
			out = append(out, p)
		}
	}
	return out
}

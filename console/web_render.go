package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/identity"
)

// render is the one render path of every console page: it completes p
// with the person's language, their menu, the CSRF token of their session
// and the request's path, and writes the view in the layout. The security
// headers come from pageSecurity (or pageHeaders) before.
func (c *Console) render(g *gin.Context, status int, view string, p *ui.Page) {
	p.Lang = ui.Pick(g.GetHeader("Accept-Language"))
	p.Path = g.Request.URL.Path
	if pu, ok := c.pageUser(g); ok {
		p.User = pu.Session.Email
		p.Nav = c.nav(pu.Role)
		if p.CSRF == "" {
			p.CSRF = identity.CSRFToken(pu.Cookie)
		}
	}
	g.Header("Content-Type", "text/html; charset=utf-8")
	g.Status(status)
	if err := c.ui.Render(g.Writer, view, p); err != nil {
		c.opts.Log.Error("console: render page", "view", view, "err", err)
		g.Status(http.StatusInternalServerError)
		_, _ = g.Writer.WriteString("internal error")
	}
}

// t is a catalogue message in the request's language.
func (c *Console) t(g *gin.Context, key string, args ...any) string {
	return c.ui.Catalogue().T(ui.Pick(g.GetHeader("Accept-Language")), key, args...)
}

// staticAsset serves GET /static/:hash/:name, the console's CSS and script.
func (c *Console) staticAsset(g *gin.Context) {
	c.ui.ServeAsset(g.Writer, g.Param("hash"), g.Param("name"))
}

package console

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// pageData is what the sign-in pages show.
type pageData struct {
	Title, CSRF, RD              string
	Error, Notice, Email         string
	Providers                    []identity.ProviderInfo
	Local, WebAuthn, SignedIn    bool
	Pending                      string
	HasKeys, Fresh               bool
	Keys                         []*store.Credential
	StepUpURL, SelfURL, Continue string
	Link, LinkText               string
	DevicesLink                  bool                    // the signed-in home links to the user's devices page
	Links                        []identity.LinkInfo     // identity-provider accounts linked to the user
	LinkProviders                []identity.ProviderInfo // providers the user can still link
}

// renderPage writes a sign-in page (view signin_<name>) in the console
// layout. d.Title is the title's catalogue key, d.LinkText the link's.
func (c *Console) renderPage(g *gin.Context, status int, name string, d pageData) {
	p := &ui.Page{TitleKey: d.Title, CSRF: d.CSRF, Error: d.Error, Notice: d.Notice, Script: true, Data: d}
	if name == "continue" {
		p.Script, p.Refresh = false, d.Continue
	}
	c.render(g, status, "signin_"+name, p)
}

// renderError shows err as a page titled with the catalogue key title: its
// client-safe message, never internal text, with a way back to signing in.
func (c *Console) renderError(g *gin.Context, title string, err error) {
	status := apperr.Status(err)
	if status >= 500 {
		c.opts.Log.Error("console: sign-in failed", "path", g.Request.URL.Path, "err", err)
	} else {
		c.opts.Log.Info("console: sign-in refused", "path", g.Request.URL.Path, "err", err)
	}
	c.renderPage(g, status, "message", pageData{Title: title, Error: apperr.ToBody(err).Error.Message,
		Link: "/auth/sign_in", LinkText: "signin.again"})
}

// goTo sends the browser on after a POST: directly on the console; through
// a small page for another host, since a form's CSP (form-action 'self')
// also governs redirects after the form is sent.
func (c *Console) goTo(g *gin.Context, dest string) {
	if strings.HasPrefix(dest, c.opts.Identity.Origin()+"/") {
		g.Header("Cache-Control", "no-store")
		g.Redirect(http.StatusSeeOther, dest)
		return
	}
	c.renderPage(g, http.StatusOK, "continue", pageData{Title: "title.continue", Continue: dest})
}

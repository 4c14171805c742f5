package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
)

// errorView is what the error page shows under its title.
type errorView struct{ Message string }

// wantsJSON reports whether a failed request should be answered in JSON:
// the API, a JSON request (the pages' scripts), or a client that asks for
// JSON and not for HTML. Everything else is a browser and gets a page.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return true
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// failPage answers err: JSON to the API and to scripts (see wantsJSON);
// to a browser, the error page in the layout and the person's language,
// or the sign-in page when it is about not being signed in.
func (c *Console) failPage(g *gin.Context, err error) { c.pageError(g, err, "") }

// pageError is failPage showing the catalogue message msgKey on the page
// instead of the one chosen by the status ("" for that one).
func (c *Console) pageError(g *gin.Context, err error, msgKey string) {
	if wantsJSON(g.Request) {
		c.fail(g, err)
		return
	}
	status := apperr.Status(err)
	if status >= 500 {
		c.opts.Log.Error("console: page failed", "method", g.Request.Method, "path", g.Request.URL.Path, "err", err)
	}
	if status == http.StatusUnauthorized {
		c.toSignIn(g)
		return
	}
	retryAfter(g, err)
	c.renderErrorPage(g, status, msgKey, apperr.ToBody(err).Error.Message)
}

// renderErrorPage shows the error page for status. Statuses whose cause
// the person can act on (400, 409, 429) show the error's own client-safe
// message; the others a message from the catalogue.
func (c *Console) renderErrorPage(g *gin.Context, status int, msgKey, clientMsg string) {
	title := "title.error." + strconv.Itoa(status)
	switch status {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable:
	default:
		title = "title.error.500"
		if status < 500 {
			title = "title.error.400"
		}
	}
	p := &ui.Page{TitleKey: title}
	lang := ui.Pick(g.GetHeader("Accept-Language"))
	switch {
	case msgKey != "":
		p.Data = errorView{Message: c.ui.Catalogue().T(lang, msgKey)}
	case status == http.StatusBadRequest || status == http.StatusConflict || status == http.StatusTooManyRequests:
		p.Data = errorView{Message: clientMsg}
	case status >= 500:
		p.Data = errorView{Message: c.ui.Catalogue().T(lang, "error.500")}
	default:
		p.Data = errorView{Message: c.ui.Catalogue().T(lang, "error."+strconv.Itoa(status))}
	}
	pageHeaders(g)
	c.render(g, status, "error", p)
	g.Abort()
}

// toSignIn sends a browser that is not signed in to the sign-in page, and
// back here afterwards (for a page it was reading, not a form it sent).
func (c *Console) toSignIn(g *gin.Context) {
	dest := "/auth/sign_in"
	if g.Request.Method == http.MethodGet {
		dest += "?" + url.Values{"rd": {g.Request.URL.RequestURI()}}.Encode()
	}
	g.Header("Cache-Control", "no-store")
	g.Redirect(http.StatusFound, dest)
	g.Abort()
}

// notFound answers a path no route serves: the HTML 404 page to a
// browser, JSON to the API.
func (c *Console) notFound(g *gin.Context) {
	if wantsJSON(g.Request) {
		g.JSON(http.StatusNotFound, gin.H{"error": gin.H{"code": "not_found", "message": "no such page"}})
		return
	}
	c.renderErrorPage(g, http.StatusNotFound, "", "")
}

// methodNotAllowed answers a known path asked with another method.
func (c *Console) methodNotAllowed(g *gin.Context) {
	if wantsJSON(g.Request) {
		g.JSON(http.StatusMethodNotAllowed, gin.H{"error": gin.H{"code": "method_not_allowed", "message": "this path does not accept " + g.Request.Method}})
		return
	}
	c.renderErrorPage(g, http.StatusMethodNotAllowed, "", "")
}

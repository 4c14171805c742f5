package console

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/docs"
	"github.com/russross/blackfriday/v2"
)

// guidePage is the user guide as the help page shows it: docs/user-guide.md
// rendered once, its title line left to the layout's h1, its images served
// under /help/images/.
type guidePage struct {
	HTML template.HTML
}

// guideTitle is the guide's first line (the layout prints its own h1).
var guideTitle = regexp.MustCompile(`\A# [^\n]*\n`)

// renderGuide renders the embedded user guide. The Markdown is Portier's
// own, embedded at build time: its HTML is trusted as written.
func renderGuide() (*guidePage, error) {
	md, err := fs.ReadFile(docs.UserGuide, docs.UserGuidePath)
	if err != nil {
		return nil, err
	}
	md = guideTitle.ReplaceAll(bytes.ReplaceAll(md, []byte("](images/"), []byte("](/help/images/")), nil)
	out := blackfriday.Run(md, blackfriday.WithExtensions(blackfriday.CommonExtensions|blackfriday.AutoHeadingIDs))
	return &guidePage{HTML: template.HTML(out)}, nil //nolint:gosec // Portier's own embedded guide
}

// helpPage is GET /help: the user guide, for everyone (signed in or not:
// it is what to do when signing in or access fails).
func (c *Console) helpPage(g *gin.Context) {
	if c.guide == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "The user guide is not built into this server."))
		return
	}
	c.render(g, http.StatusOK, "help", &ui.Page{TitleKey: "title.help", Data: c.guide})
}

// helpImage is GET /help/images/:name: an image the guide shows.
func (c *Console) helpImage(g *gin.Context) {
	b, err := fs.ReadFile(docs.UserGuide, path.Join("images", path.Base(g.Param("name"))))
	if err != nil {
		c.notFound(g)
		return
	}
	g.Header("Cache-Control", "public, max-age=3600")
	g.Header("X-Content-Type-Options", "nosniff")
	g.Data(http.StatusOK, "image/png", b)
}

package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

// compliancePageView is one compliance policy's read-only page.
type compliancePageView struct {
	Rule     ruleView
	Versions []versionView
}

// compliancePage is GET /rules/compliance/:id: a compliance policy's
// current YAML, mode, scheduled promotion and versions with their diffs.
// Changes go through the API (PUT /api/v1/compliance/{id}) or
// `portier policy apply`.
func (c *Console) compliancePage(g *gin.Context) {
	if c.opts.Rules == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Routes and policies are not served on this server."))
		return
	}
	id := g.Param("id")
	r, ok := c.opts.Store.RuleOf(store.RuleCompliance, id)
	if !ok || r.Deleted {
		c.failPage(g, apperr.New(apperr.NotFound, "There is no compliance policy %q.", id))
		return
	}
	vs, _, err := c.opts.Rules.Versions(g.Request.Context(), store.RuleCompliance, id, "", 50)
	if err != nil {
		c.failPage(g, err)
		return
	}
	v := &compliancePageView{Rule: viewRule(r)}
	for _, x := range vs {
		v.Versions = append(v.Versions, viewVersion(x))
	}
	c.render(g, http.StatusOK, "rules_compliance", &ui.Page{TitleKey: "title.rules_compliance", Data: v})
}

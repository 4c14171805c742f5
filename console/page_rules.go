package console

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// rulesPolicyRow is one policy on the /rules page, with the routes that
// use it.
type rulesPolicyRow struct {
	ruleView
	Routes []string
}

// rulesRouteRow is one route on the /rules page.
type rulesRouteRow struct {
	ID, From, To, Policy string
}

type rulesPageView struct {
	Policies []rulesPolicyRow
	Routes   []rulesRouteRow
	// Compliance are the compliance policies (mode and version), each
	// linking to its read-only page (page_rules_compliance.go).
	Compliance []ruleView
	CanWrite   bool
}

// rulesPage is GET /rules: the live policies (mode, version, last change,
// the routes that use each), routes and compliance policies, by id.
func (c *Console) rulesPage(g *gin.Context) {
	if c.opts.Rules == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Routes and policies are not served on this server."))
		return
	}
	pu, _ := c.pageUser(g)
	v := rulesPageView{CanWrite: perms[pu.Role][PermRulesWrite]}
	used := map[string][]string{}
	for _, r := range sortedLive(c.opts.Store.Routes()) {
		row := rulesRouteRow{ID: r.ID}
		if d, err := rules.DocOf(r); err == nil && d != nil {
			row.From, row.To, row.Policy = d.Route.From, d.Route.To, d.Route.Policy
		}
		used[row.Policy] = append(used[row.Policy], r.ID)
		v.Routes = append(v.Routes, row)
	}
	for _, r := range sortedLive(c.opts.Store.Policies()) {
		v.Policies = append(v.Policies, rulesPolicyRow{ruleView: viewRule(r), Routes: used[r.ID]})
	}
	for _, r := range sortedLive(c.opts.Store.Compliance()) {
		v.Compliance = append(v.Compliance, viewRule(r))
	}
	c.render(g, http.StatusOK, "rules", &ui.Page{TitleKey: "title.rules", Data: v})
}

// sortedLive is the rules that are not deleted, by id.
func sortedLive(all []*store.Rule) []*store.Rule {
	out := make([]*store.Rule, 0, len(all))
	for _, r := range all {
		if !r.Deleted {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

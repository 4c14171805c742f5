package console

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

// decisionsView is what the decision explorer page shows.
type decisionsView struct {
	Records []*store.DecisionRecord
	// Filter is the page's filters as typed (user, route, outcome,
	// report_only); Next the link to the next page with the same filters.
	Filter url.Values
	Next   string
	// Export is the CSV export of every record the filters match; Hidden
	// the filters the form has no field for (from a statistics link),
	// kept when it is submitted.
	Export string
	Hidden url.Values
}

// decisionsFormFields are the filters the explorer's form shows.
var decisionsFormFields = map[string]bool{"user": true, "route": true, "outcome": true}

// decisionsPage is GET /decisions: recorded access, newest first, with the
// filters and cursor of GET /api/v1/decisions: why was this person denied,
// with the reasons and the remediation the deny page showed.
func (c *Console) decisionsPage(g *gin.Context) {
	v := url.Values{}
	for k, vals := range g.Request.URL.Query() {
		if len(vals) > 0 && vals[0] != "" { // an empty form field filters nothing
			v.Set(k, vals[0])
		}
	}
	if v.Has("limit") {
		c.failPage(g, apperr.Field("limit", "the page shows 50 records at a time"))
		return
	}
	q, err := ParseDecisionQuery(v)
	if err != nil {
		c.failPage(g, err)
		return
	}
	q.Limit = 50
	dl, err := c.decisionLog()
	if err != nil {
		c.failPage(g, err)
		return
	}
	recs, next, err := decisionPage(g.Request.Context(), dl, q)
	if err != nil {
		c.failPage(g, err)
		return
	}
	view := decisionsView{Records: recs, Filter: v, Hidden: url.Values{}}
	ev := url.Values{}
	for k := range v {
		if k != "cursor" {
			ev.Set(k, v.Get(k))
			if !decisionsFormFields[k] {
				view.Hidden.Set(k, v.Get(k))
			}
		}
	}
	view.Export = "/decisions/export?" + ev.Encode()
	if next != "" {
		nv := url.Values{}
		for k := range v {
			nv.Set(k, v.Get(k))
		}
		nv.Set("cursor", next)
		view.Next = "/decisions?" + nv.Encode()
	}
	c.render(g, http.StatusOK, "decisions", &ui.Page{TitleKey: "title.decisions", Data: view})
}

// exportDecisionsPage is GET /decisions/export: the explorer's CSV export
// with the page's filters (empty fields filter nothing), for a browser
// session; audited like the API's.
func (c *Console) exportDecisionsPage(g *gin.Context) {
	c.writeDecisionsExport(g, filledValues(g.Request.URL.Query()), c.failPage)
}

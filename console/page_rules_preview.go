package console

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// defaultPreviewDays is the preview's replay window unless chosen.
const defaultPreviewDays = 30

// previewWindows are the replay windows the preview offers, in days.
var previewWindows = []int{1, 7, defaultPreviewDays}

// previewView is what the editor's Preview shows, nothing saved: the
// unified diff of the edited text against the current version, and the
// impact replay of the edited rule on recorded access.
type previewView struct {
	// Against is the version the diff is against (0: a new rule).
	Against uint64
	// Diff is the unified diff; empty when the text says the same.
	Diff string
	// Impact is the replay; nil with ImpactNote saying why there is none.
	Impact     *Impact
	ImpactNote string
	// Classes are the impact's newly denied, newly allowed and unchanged,
	// as the page lists them.
	Classes []impactClass
}

// impactClass is one class of the impact on the page: its element id, its
// catalogue key, and whether it lists groups (unchanged does not).
type impactClass struct {
	ID, Key string
	Change  *ImpactChange
	Grouped bool
}

// classes are im's classes in the order the page shows them.
func classes(im *Impact) []impactClass {
	return []impactClass{
		{ID: "impact-denied", Key: "rules.newly_denied", Change: &im.NewlyDenied, Grouped: true},
		{ID: "impact-allowed", Key: "rules.newly_allowed", Change: &im.NewlyAllowed, Grouped: true},
		{ID: "impact-unchanged", Key: "rules.unchanged", Change: &im.Unchanged},
	}
}

// previewRulePage is POST /rules/{policies,routes}/:id/preview: the
// editor's Preview. The form comes back filled, with the diff against the
// current version and the impact replay over the chosen window; lint
// errors show under the text as on a save. Nothing is saved, so it needs
// rules:read only (an auditor can preview, not save).
func (c *Console) previewRulePage(g *gin.Context) {
	v, err := c.postedRule(g)
	if err != nil {
		c.failPage(g, err)
		return
	}
	k, f := v.Kind, v.Form
	p := &previewView{}
	v.Preview = p
	cur := ""
	if r, ok := c.opts.Store.RuleOf(k.Type, f.ID); ok && !r.Deleted && !v.New {
		cur, p.Against = r.Text, r.Version
	}
	edited := f.body()
	id := f.ID
	if id == newRuleID {
		id = ""
	}
	d, err := rules.ParseDoc(k.Type, k.Type, []byte(edited), id)
	if err == nil {
		edited = d.Text // the text as it would be stored: the diff the version would get
	} else {
		perr := docError("text", err)
		var ae *apperr.Error
		if !errors.As(perr, &ae) {
			c.failPage(g, err)
			return
		}
		v.ErrMsg, v.ErrLine = ae.Msg, ae.Line
		p.ImpactNote = c.t(g, "rules.preview_fix_first")
	}
	if cur != edited {
		from := fmt.Sprintf("%s/%s version %d", k.Type, f.ID, p.Against)
		p.Diff = rules.Diff(cur, edited, from, fmt.Sprintf("%s/%s edited", k.Type, f.ID))
	}
	if d != nil {
		until := c.now().UTC()
		q := impactQuery{Since: until.Add(-time.Duration(f.Days) * 24 * time.Hour), Until: until}
		if k.Type == store.RuleRoute {
			q.RouteDoc = d
		} else {
			q.Policy = d.Text
		}
		p.Impact, err = c.impact(g.Request.Context(), q)
		var ae *apperr.Error
		switch {
		case err == nil:
			p.Classes = classes(p.Impact)
		case errors.As(err, &ae) && ae.Field == "route":
			p.ImpactNote = c.t(g, "rules.preview_no_route") // a policy no route uses yet
		case errors.As(err, &ae) && ae.Code != apperr.Internal:
			p.ImpactNote = ae.Msg
		default:
			c.failPage(g, err)
			return
		}
	}
	c.renderRule(g, http.StatusOK, v, "")
}

package console

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
)

// rolloutListView is the /rollout page: every plan with where it stands.
type rolloutListView struct {
	Plans    []planSummary
	CanWrite bool
}

// planSummary is one plan on the list: its current wave, the next wave's
// date, the go/no-go for it and the coexistence deadline.
type planSummary struct {
	ID, Name string
	Paused   bool
	Current  string // the last applied wave, "" for none
	Next     string // the next wave to apply, "" when all are
	NextAt   time.Time
	Go       bool
	Failing  []string
	Deadline time.Time
	Err      string // the progress could not be computed
}

// rolloutPage is GET /rollout.
func (c *Console) rolloutPage(g *gin.Context) {
	v := &rolloutListView{CanWrite: perms[who(g).Role][PermRolloutWrite]}
	x := rollout.Build(c.opts.Store)
	for _, p := range x.Plans() {
		s := planSummary{ID: p.ID, Name: p.Name, Paused: p.Paused}
		if cur := rollout.Current(p); cur >= 0 {
			s.Current = p.Waves[cur].Name
		}
		if p.Coexistence != nil {
			s.Deadline = p.Coexistence.Deadline
		}
		pr, err := rollout.ProgressOf(g.Request.Context(), c.opts.Store, x, p, c.now().UTC())
		if err != nil {
			c.opts.Log.Error("console: rollout progress", "plan", p.ID, "err", err)
			s.Err = c.t(g, "rollout.progress_failed")
		} else {
			s.Go, s.Failing = pr.Go, c.failingWords(g, pr)
			if pr.Next >= 0 {
				s.Next, s.NextAt = p.Waves[pr.Next].Name, p.Waves[pr.Next].Start
			}
		}
		v.Plans = append(v.Plans, s)
	}
	c.render(g, http.StatusOK, "rollout", &ui.Page{TitleKey: "title.rollout", Data: v})
}

// planPageView is the plan page: the edit form, then (for a stored plan)
// its per-wave progress, the go/no-go, tickets, pause and the policy
// versions it wrote.
type planPageView struct {
	Form     *planForm
	Plan     *store.RolloutPlan // nil on /rollout/new
	Progress *rollout.Progress
	Waves    []waveRow
	Failing  []string
	Versions []planVersion
	CanWrite bool
	StepUp   string
}

// waveRow is one wave's line of the progress table, its criteria in the
// page's language.
type waveRow struct {
	rollout.WaveProgress
	Criteria []criterionRow
}

// criterionRow is one exit criterion in words.
type criterionRow struct {
	Met  bool
	Text string
}

// planVersion is a policy version a plan's scheduled step wrote.
type planVersion struct {
	Link, Policy string
	Version      uint64
	At           time.Time
}

// newPlanPage is GET /rollout/new: an empty plan form with the default
// exit criteria.
func (c *Console) newPlanPage(g *gin.Context) {
	f := formFromPlan(&store.RolloutPlan{Exit: store.DefaultExitCriteria})
	c.renderPlan(g, http.StatusOK, &planPageView{Form: f}, "", "")
}

// planPage is GET /rollout/:id.
func (c *Console) planPage(g *gin.Context) {
	p, ok := c.opts.Store.RolloutPlan(g.Param("id"))
	if !ok {
		c.notFound(g)
		return
	}
	notice := ""
	switch g.Query("done") {
	case "saved":
		notice = c.t(g, "rollout.saved")
	case "tickets":
		notice = c.t(g, "rollout.tickets_saved")
	case "paused":
		notice = c.t(g, "rollout.paused_notice")
	case "resumed":
		notice = c.t(g, "rollout.resumed_notice")
	}
	c.renderPlan(g, http.StatusOK, &planPageView{Form: formFromPlan(p), Plan: p}, "", notice)
}

// renderPlan completes v (choices, progress, versions) and renders the
// plan page.
func (c *Console) renderPlan(g *gin.Context, status int, v *planPageView, errMsg, notice string) {
	v.CanWrite = perms[who(g).Role][PermRolloutWrite]
	c.formChoices(v.Form)
	if v.Plan != nil {
		pr, _, err := c.progressOf(g, v.Plan.ID)
		if err != nil {
			c.failPage(g, err)
			return
		}
		v.Progress, v.Failing = pr, c.failingWords(g, pr)
		for _, w := range pr.Waves {
			row := waveRow{WaveProgress: w}
			for _, cr := range w.Criteria {
				row.Criteria = append(row.Criteria, criterionRow{Met: cr.Met, Text: c.criterionWords(g, cr)})
			}
			v.Waves = append(v.Waves, row)
		}
		v.Versions = c.planVersions(g, v.Plan)
	}
	title := "title.rollout_plan"
	if v.Plan == nil {
		title = "title.rollout_new"
	}
	c.render(g, status, "rollout_plan", &ui.Page{TitleKey: title, Error: errMsg, Notice: notice, Data: v})
}

// failingWords are the judged wave's failing criteria in the page's
// language.
func (c *Console) failingWords(g *gin.Context, pr *rollout.Progress) []string {
	var out []string
	for _, cr := range pr.Waves[pr.Judged].Criteria {
		if !cr.Met {
			out = append(out, c.criterionWords(g, cr))
		}
	}
	return out
}

// criterionWords says a criterion in the page's language, e.g.
// "compliance 72 % < 90 %".
func (c *Console) criterionWords(g *gin.Context, cr rollout.Criterion) string {
	pct := func(r float64) int { return int(r*100 + 1e-9) }
	cmp := map[bool]string{true: "≥", false: "<"}[cr.Met]
	max := map[bool]string{true: "≤", false: ">"}[cr.Met]
	switch cr.Name {
	case rollout.CritEnrollment:
		if !cr.Known {
			return c.t(g, "rollout.crit.enrollment_unknown", pct(cr.Limit))
		}
		return c.t(g, "rollout.crit.enrollment", pct(cr.Value), cmp, pct(cr.Limit))
	case rollout.CritCompliance:
		if !cr.Known {
			return c.t(g, "rollout.crit.compliance_unknown", pct(cr.Limit))
		}
		return c.t(g, "rollout.crit.compliance", pct(cr.Value), cmp, pct(cr.Limit))
	case rollout.CritTickets:
		return c.t(g, "rollout.crit.tickets", int(cr.Value), max, int(cr.Limit))
	case rollout.CritWouldDeny:
		if !cr.Known {
			return c.t(g, "rollout.crit.would_deny_unknown")
		}
		return c.t(g, "rollout.crit.would_deny", int(cr.Value), max, int(cr.Limit))
	}
	return cr.Text
}

// planVersions lists the policy and compliance versions whose author is
// the plan's (rollout.Author): what its applied waves wrote.
func (c *Console) planVersions(g *gin.Context, p *store.RolloutPlan) []planVersion {
	if c.opts.Rules == nil {
		return nil
	}
	var out []planVersion
	author := rollout.Author(p.ID)
	add := func(typ, base string, ids []string) {
		for _, id := range ids {
			vs, _, err := c.opts.Rules.Versions(g.Request.Context(), typ, id, "", 1000)
			if err != nil {
				c.opts.Log.Error("console: rollout versions", "plan", p.ID, "rule", id, "err", err)
				continue
			}
			for _, v := range vs {
				if v.Author == author {
					out = append(out, planVersion{Link: base + id, Policy: id, Version: v.Version, At: v.At})
				}
			}
		}
	}
	add(store.RulePolicy, "/rules/policies/", p.Policies)
	add(store.RuleCompliance, "/rules/compliance/", p.Compliance)
	return out
}

package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// formTime is how the plan form writes and reads dates (UTC); a date
// alone means midnight UTC.
const formTime = "2006-01-02 15:04"

// blankWaveRows is how many empty wave rows the plan form offers.
const blankWaveRows = 2

// planForm is the plan form's fields as the page shows them: from the
// stored plan, or as the person submitted them when they are refused.
type planForm struct {
	ID, Name string
	Version  uint64 // the version the form was read at (If-Match)
	// Policies, Compliance and Routes are the chosen ids; the Choices
	// list what exists (formChoices).
	Policies, Compliance, Routes                   []string
	PolicyChoices, ComplianceChoices, RouteChoices []formChoice
	// Applied are the waves already applied: shown, not editable.
	Applied []store.RolloutWave
	Rows    []waveForm
	// Deadline is the coexistence deadline, "" for none.
	Deadline                                               string
	MinEnrollment, MinCompliance, MaxTickets, MaxWouldDeny string
}

// formChoice is one checkbox of a list of existing rules.
type formChoice struct {
	ID      string
	Checked bool
}

// waveForm is one editable wave row; lists are comma-separated.
type waveForm struct {
	Row                                      int
	Name, Groups, Departments, People, Start string
	Everyone                                 bool
}

// formFromPlan is the form of plan p, with blank rows for new waves.
func formFromPlan(p *store.RolloutPlan) *planForm {
	f := &planForm{ID: p.ID, Name: p.Name, Version: p.Version, Policies: p.Policies, Compliance: p.Compliance,
		MinEnrollment: pctField(p.Exit.MinEnrollment), MinCompliance: pctField(p.Exit.MinCompliance),
		MaxTickets: strconv.Itoa(p.Exit.MaxTickets), MaxWouldDeny: strconv.Itoa(p.Exit.MaxWouldDeny)}
	if c := p.Coexistence; c != nil {
		f.Deadline, f.Routes = c.Deadline.UTC().Format(formTime), c.Routes
	}
	for _, w := range p.Waves {
		if !w.AppliedAt.IsZero() {
			f.Applied = append(f.Applied, w)
			continue
		}
		f.Rows = append(f.Rows, waveForm{Name: w.Name, Groups: strings.Join(w.Groups, ", "), Departments: strings.Join(w.Departments, ", "),
			People: strings.Join(w.People, ", "), Start: w.Start.UTC().Format(formTime), Everyone: w.Everyone})
	}
	f.addBlankRows()
	return f
}

func (f *planForm) addBlankRows() {
	for range blankWaveRows {
		f.Rows = append(f.Rows, waveForm{})
	}
	for i := range f.Rows {
		f.Rows[i].Row = i
	}
}

// pctField writes a rate as a percentage for the form.
func pctField(r float64) string { return strconv.FormatFloat(r*100, 'f', -1, 64) }

// formChoices lists the existing policies, compliance policies and routes
// as checkboxes, the form's choices checked.
func (c *Console) formChoices(f *planForm) {
	list := func(typ string, chosen []string) []formChoice {
		var out []formChoice
		for _, r := range c.opts.Store.RulesOf(typ) {
			if !r.Deleted {
				out = append(out, formChoice{ID: r.ID, Checked: slices.Contains(chosen, r.ID)})
			}
		}
		slices.SortFunc(out, func(a, b formChoice) int { return strings.Compare(a.ID, b.ID) })
		return out
	}
	f.PolicyChoices = list(store.RulePolicy, f.Policies)
	f.ComplianceChoices = list(store.RuleCompliance, f.Compliance)
	f.RouteChoices = list(store.RuleRoute, f.Routes)
}

// postedPlan reads the submitted form into a form (to show again) and a
// plan; old is the stored plan (nil for a new one), whose applied waves
// and tickets the plan keeps. An error names the field at fault.
func postedPlan(g *gin.Context, old *store.RolloutPlan) (*planForm, *store.RolloutPlan, error) {
	pf := g.Request.PostForm
	f := &planForm{ID: strings.TrimSpace(pf.Get("id")), Name: pf.Get("name"), Policies: pf["policy"], Compliance: pf["compliance"],
		Routes: pf["route"], Deadline: strings.TrimSpace(pf.Get("deadline")),
		MinEnrollment: pf.Get("min_enrollment"), MinCompliance: pf.Get("min_compliance"),
		MaxTickets: pf.Get("max_tickets"), MaxWouldDeny: pf.Get("max_would_deny")}
	p := &store.RolloutPlan{ID: f.ID, Name: f.Name, Policies: f.Policies, Compliance: f.Compliance}
	tickets := map[string]int{}
	if old != nil {
		f.ID, p.ID, f.Version = old.ID, old.ID, old.Version
		for _, w := range old.Waves {
			tickets[w.Name] = w.Tickets
			if !w.AppliedAt.IsZero() {
				f.Applied = append(f.Applied, w)
				p.Waves = append(p.Waves, w)
			}
		}
	}
	names, groups, depts, people, starts := pf["wave_name"], pf["wave_groups"], pf["wave_departments"], pf["wave_people"], pf["wave_start"]
	everyone := map[string]bool{}
	for _, v := range pf["wave_everyone"] {
		everyone[v] = true
	}
	at := func(list []string, i int) string {
		if i < len(list) {
			return strings.TrimSpace(list[i])
		}
		return ""
	}
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for i := range names {
		w := waveForm{Name: at(names, i), Groups: at(groups, i), Departments: at(depts, i), People: at(people, i), Start: at(starts, i),
			Everyone: everyone[strconv.Itoa(i)]}
		if w.Name == "" && w.Groups == "" && w.Departments == "" && w.People == "" && w.Start == "" && !w.Everyone {
			continue // a blank row
		}
		f.Rows = append(f.Rows, w)
		field := fmt.Sprintf("waves[%d]", len(p.Waves))
		start, err := parseFormTime(w.Start)
		if err != nil {
			fail(apperr.Field(field+".start", "a date is written %s (UTC) or %s", "2027-01-04 09:00", "2027-01-04"))
		}
		p.Waves = append(p.Waves, store.RolloutWave{Name: w.Name, Groups: commaList(w.Groups), Departments: commaList(w.Departments),
			People: commaList(w.People), Everyone: w.Everyone, Start: start, Tickets: tickets[w.Name]})
	}
	f.addBlankRows()
	if f.Deadline != "" {
		d, err := parseFormTime(f.Deadline)
		if err != nil {
			fail(apperr.Field("coexistence.deadline", "a date is written %s (UTC) or %s", "2027-01-04 09:00", "2027-01-04"))
		}
		p.Coexistence = &store.Coexistence{Deadline: d, Routes: f.Routes}
	} else if len(f.Routes) > 0 {
		fail(apperr.Field("coexistence.deadline", "routes of the coexistence period need its deadline"))
	}
	pct := func(field, s string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v < 0 || v > 100 {
			fail(apperr.Field(field, "a percentage from 0 to 100"))
		}
		return v / 100
	}
	count := func(field, s string) int {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 0 {
			fail(apperr.Field(field, "a count, 0 or more"))
		}
		return v
	}
	p.Exit = store.ExitCriteria{MinEnrollment: pct("exit.min_enrollment", f.MinEnrollment), MinCompliance: pct("exit.min_compliance", f.MinCompliance),
		MaxTickets: count("exit.max_tickets", f.MaxTickets), MaxWouldDeny: count("exit.max_would_deny", f.MaxWouldDeny)}
	return f, p, firstErr
}

// parseFormTime reads a form date: "2006-01-02 15:04" or "2006-01-02", UTC.
func parseFormTime(s string) (time.Time, error) {
	if t, err := time.Parse(formTime, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// commaList splits a comma-separated field, dropping empty items.
func commaList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// createPlanForm is POST /rollout/new.
func (c *Console) createPlanForm(g *gin.Context) {
	f, p, err := postedPlan(g, nil)
	if err == nil {
		_, err = c.createPlan(g, p)
	}
	if err != nil {
		c.planFormFailed(g, &planPageView{Form: f}, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/rollout/"+url.PathEscape(p.ID)+"?done=saved")
}

// savePlanForm is POST /rollout/:id: the edit form, at the version it was
// read (a change meanwhile is refused), after a fresh security-key check.
func (c *Console) savePlanForm(g *gin.Context) {
	old, ok := c.opts.Store.RolloutPlan(g.Param("id"))
	if !ok {
		c.notFound(g)
		return
	}
	f, p, err := postedPlan(g, old)
	v := &planPageView{Form: f, Plan: old}
	if !c.pageFresh(g, "/rollout/"+url.PathEscape(old.ID), func(stepUp string) {
		v.StepUp = stepUp
		c.renderPlan(g, http.StatusForbidden, v, c.t(g, "device.need_fresh_key"), "")
	}) {
		return
	}
	if err == nil {
		version, perr := strconv.ParseUint(g.PostForm("version"), 10, 64)
		if perr != nil {
			err = apperr.Field("version", "the form's version is missing: reload the page")
		} else {
			_, err = c.updatePlan(g, old.ID, &version, p)
		}
	}
	if err != nil {
		c.planFormFailed(g, v, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/rollout/"+url.PathEscape(old.ID)+"?done=saved")
}

// planFormFailed shows the form again, as submitted, with why it was
// refused.
func (c *Console) planFormFailed(g *gin.Context, v *planPageView, err error) {
	var ae *apperr.Error
	if !errors.As(err, &ae) || apperr.Status(err) >= 500 {
		c.failPage(g, err)
		return
	}
	msg := ae.Msg
	if ae.Field != "" {
		msg = ae.Field + ": " + ae.Msg
	}
	c.renderPlan(g, apperr.Status(err), v, msg, "")
}

// pausePlanForm is POST /rollout/:id/pause (after a fresh security-key
// check: pausing delays enforcement) and /resume.
func (c *Console) pausePlanForm(paused bool) gin.HandlerFunc {
	return func(g *gin.Context) {
		id := g.Param("id")
		old, ok := c.opts.Store.RolloutPlan(id)
		if !ok {
			c.notFound(g)
			return
		}
		if paused && !c.pageFresh(g, "/rollout/"+url.PathEscape(id), func(stepUp string) {
			c.renderPlan(g, http.StatusForbidden, &planPageView{Form: formFromPlan(old), Plan: old, StepUp: stepUp}, c.t(g, "device.need_fresh_key"), "")
		}) {
			return
		}
		if _, err := c.setPaused(g, id, paused); err != nil {
			c.planFormFailed(g, &planPageView{Form: formFromPlan(old), Plan: old}, err)
			return
		}
		done := "resumed"
		if paused {
			done = "paused"
		}
		g.Redirect(http.StatusSeeOther, "/rollout/"+url.PathEscape(id)+"?done="+done)
	}
}

// ticketsForm is POST /rollout/:id/tickets: one wave's open tickets.
func (c *Console) ticketsForm(g *gin.Context) {
	id := g.Param("id")
	old, ok := c.opts.Store.RolloutPlan(id)
	if !ok {
		c.notFound(g)
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(g.PostForm("tickets")))
	if err != nil {
		err = apperr.Field("tickets", "tickets is a count, 0 or more")
	} else {
		_, err = c.setTickets(g, id, g.PostForm("wave"), n)
	}
	if err != nil {
		c.planFormFailed(g, &planPageView{Form: formFromPlan(old), Plan: old}, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/rollout/"+url.PathEscape(id)+"?done=tickets#wave-"+url.PathEscape(g.PostForm("wave")))
}

package console

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
)

// planBody is a plan as POST and PUT take it: the plan's JSON, where an
// absent exit means store.DefaultExitCriteria. The server-owned fields
// (version, applied_at, paused, created_*, updated_*) may be sent back
// as GET answered them; they are ignored.
type planBody struct {
	store.RolloutPlan
	Exit *store.ExitCriteria `json:"exit"`
}

// plan is the submitted plan, with its exit criteria defaulted.
func (b *planBody) plan() *store.RolloutPlan {
	p := b.RolloutPlan
	p.Exit = store.DefaultExitCriteria
	if b.Exit != nil {
		p.Exit = *b.Exit
	}
	return &p
}

// listPlans is GET /api/v1/rollout/plans: the plans by id, a page at a
// time (?limit=, ?cursor=).
func (c *Console) listPlans(g *gin.Context) {
	limit, err := pageLimit(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	cursor := g.Query("cursor")
	out, next := []*store.RolloutPlan{}, ""
	for _, p := range c.opts.Store.RolloutPlans() {
		if p.ID <= cursor {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		out = append(out, p)
	}
	g.JSON(http.StatusOK, gin.H{"plans": out, "next_cursor": next})
}

// getPlan is GET /api/v1/rollout/plans/:id, with its version as ETag.
func (c *Console) getPlan(g *gin.Context) {
	p, ok := c.opts.Store.RolloutPlan(g.Param("id"))
	if !ok {
		c.fail(g, apperr.New(apperr.NotFound, "no rollout plan %q", g.Param("id")))
		return
	}
	g.Header("ETag", etag(p.Version))
	g.JSON(http.StatusOK, p)
}

// postPlan is POST /api/v1/rollout/plans: a new plan.
func (c *Console) postPlan(g *gin.Context) {
	var b planBody
	if err := decode(g, &b); err != nil {
		c.fail(g, err)
		return
	}
	p, err := c.createPlan(g, b.plan())
	c.answerPlan(g, http.StatusCreated, p, err)
}

// putPlan is PUT /api/v1/rollout/plans/:id: replaces a plan (If-Match).
func (c *Console) putPlan(g *gin.Context) {
	match, err := ifMatch(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	var b planBody
	if err := decode(g, &b); err != nil {
		c.fail(g, err)
		return
	}
	p, err := c.updatePlan(g, g.Param("id"), match, b.plan())
	c.answerPlan(g, http.StatusOK, p, err)
}

// deletePlanAPI is DELETE /api/v1/rollout/plans/:id (If-Match).
func (c *Console) deletePlanAPI(g *gin.Context) {
	match, err := ifMatch(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	if err := c.deletePlan(g, g.Param("id"), match); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// pausePlan is POST /api/v1/rollout/plans/:id/pause (paused) or /resume.
func (c *Console) pausePlan(paused bool) gin.HandlerFunc {
	return func(g *gin.Context) {
		p, err := c.setPaused(g, g.Param("id"), paused)
		c.answerPlan(g, http.StatusOK, p, err)
	}
}

// ticketsBody is the body of PUT …/waves/:wave/tickets.
type ticketsBody struct {
	Tickets *int `json:"tickets"`
}

// putTickets is PUT /api/v1/rollout/plans/:id/waves/:wave/tickets.
func (c *Console) putTickets(g *gin.Context) {
	var b ticketsBody
	if err := decode(g, &b); err != nil {
		c.fail(g, err)
		return
	}
	if b.Tickets == nil {
		c.fail(g, apperr.Field("tickets", "tickets is required: the wave's open tickets, a count"))
		return
	}
	p, err := c.setTickets(g, g.Param("id"), g.Param("wave"), *b.Tickets)
	c.answerPlan(g, http.StatusOK, p, err)
}

// planProgress is GET /api/v1/rollout/plans/:id/progress: the per-wave
// figures, exit criteria and go/no-go (rollout.ProgressOf).
func (c *Console) planProgress(g *gin.Context) {
	pr, _, err := c.progressOf(g, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, pr)
}

// progressOf is plan id and its progress now.
func (c *Console) progressOf(g *gin.Context, id string) (*rollout.Progress, *store.RolloutPlan, error) {
	p, ok := c.opts.Store.RolloutPlan(id)
	if !ok {
		return nil, nil, apperr.New(apperr.NotFound, "no rollout plan %q", id)
	}
	pr, err := rollout.ProgressOf(g.Request.Context(), c.opts.Store, rollout.Build(c.opts.Store), p, c.now().UTC())
	return pr, p, err
}

// answerPlan writes p with its ETag, or err.
func (c *Console) answerPlan(g *gin.Context, status int, p *store.RolloutPlan, err error) {
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("ETag", etag(p.Version))
	g.JSON(status, p)
}

package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
)

// MaxTickets bounds a wave's hand-entered ticket count.
const MaxTickets = 1_000_000

// The rollout plans' one code path, for the API (rollout_api.go) and the
// pages (page_rollout*.go): every change is checked, written with
// compare-and-set and audited in the same write.

// createPlan stores a new plan p, as submitted by the caller.
func (c *Console) createPlan(g *gin.Context, p *store.RolloutPlan) (*store.RolloutPlan, error) {
	if _, ok := c.opts.Store.RolloutPlan(p.ID); ok {
		return nil, conflictField("id", "a plan %q exists already: edit it with PUT and If-Match", p.ID)
	}
	for i := range p.Waves {
		p.Waves[i].AppliedAt = time.Time{} // server-owned
	}
	if err := c.checkPlan(p); err != nil {
		return nil, err
	}
	now := c.now().UTC()
	p.Version, p.Paused, p.CreatedBy, p.CreatedAt, p.UpdatedBy, p.UpdatedAt = 1, false, who(g).Actor, now, "", time.Time{}
	err := c.opts.Store.Write(g.Request.Context(), store.PutIf(p, 0),
		c.audit(g, "rollout.create", p.ID, map[string]string{"version": "1", "waves": strconv.Itoa(len(p.Waves))}))
	if errors.Is(err, store.ErrConflict) {
		return nil, conflictField("id", "a plan %q exists already", p.ID)
	}
	return p, err
}

// updatePlan replaces plan id by p, if the stored plan is at version
// match. Server-owned fields (applied dates, pause, authorship) keep their
// stored values; a wave already applied keeps its members and date.
func (c *Console) updatePlan(g *gin.Context, id string, match *uint64, p *store.RolloutPlan) (*store.RolloutPlan, error) {
	old, err := c.planFor(id, match)
	if err != nil {
		return nil, err
	}
	if p.ID != "" && p.ID != id {
		return nil, apperr.Field("id", "the body's id %q is not the plan's %q: a plan cannot be renamed", p.ID, id)
	}
	p.ID = id
	// Checked (and normalised) first, so that an applied wave compares
	// with its stored, normalised members.
	if err := c.checkPlan(p); err != nil {
		return nil, err
	}
	if err := keepApplied(old, p); err != nil {
		return nil, err
	}
	p.Version, p.Paused, p.CreatedBy, p.CreatedAt = old.Version+1, old.Paused, old.CreatedBy, old.CreatedAt
	p.UpdatedBy, p.UpdatedAt = who(g).Actor, c.now().UTC()
	detail := map[string]string{"version": strconv.FormatUint(p.Version, 10), "changed": strings.Join(planChanges(old, p), ", ")}
	return p, c.writePlan(g, old, p, "rollout.update", detail)
}

// deletePlan removes plan id if it is at version match.
func (c *Console) deletePlan(g *gin.Context, id string, match *uint64) error {
	old, err := c.planFor(id, match)
	if err != nil {
		return err
	}
	err = c.opts.Store.Write(g.Request.Context(), store.DeleteIf(store.KindRolloutPlan, id, old.Version),
		c.audit(g, "rollout.delete", id, map[string]string{"version": strconv.FormatUint(old.Version, 10), "name": old.Name}))
	return staleIf(err, id)
}

// setPaused pauses or resumes plan id.
func (c *Console) setPaused(g *gin.Context, id string, paused bool) (*store.RolloutPlan, error) {
	old, ok := c.opts.Store.RolloutPlan(id)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no rollout plan %q", id)
	}
	p := *old
	p.Paused, p.Version, p.UpdatedBy, p.UpdatedAt = paused, old.Version+1, who(g).Actor, c.now().UTC()
	action := "rollout.resume"
	if paused {
		action = "rollout.pause"
	}
	detail := map[string]string{"version": strconv.FormatUint(p.Version, 10), "was_paused": strconv.FormatBool(old.Paused)}
	return &p, c.writePlan(g, old, &p, action, detail)
}

// setTickets sets the open tickets of one wave of plan id.
func (c *Console) setTickets(g *gin.Context, id, wave string, n int) (*store.RolloutPlan, error) {
	old, ok := c.opts.Store.RolloutPlan(id)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no rollout plan %q", id)
	}
	if n < 0 || n > MaxTickets {
		return nil, apperr.Field("tickets", "tickets is a count from 0 to %d", MaxTickets)
	}
	p := *old
	p.Waves = slices.Clone(old.Waves)
	i := slices.IndexFunc(p.Waves, func(w store.RolloutWave) bool { return w.Name == wave })
	if i < 0 {
		return nil, apperr.New(apperr.NotFound, "plan %q has no wave %q", id, wave)
	}
	was := p.Waves[i].Tickets
	p.Waves[i].Tickets = n
	p.Version, p.UpdatedBy, p.UpdatedAt = old.Version+1, who(g).Actor, c.now().UTC()
	detail := map[string]string{"version": strconv.FormatUint(p.Version, 10), "wave": wave,
		"tickets": strconv.Itoa(n), "was": strconv.Itoa(was)}
	return &p, c.writePlan(g, old, &p, "rollout.tickets", detail)
}

// writePlan writes p over old (compare-and-set) with its audit event.
func (c *Console) writePlan(g *gin.Context, old, p *store.RolloutPlan, action string, detail map[string]string) error {
	err := c.opts.Store.Write(g.Request.Context(), store.PutIf(p, old.Version), c.audit(g, action, p.ID, detail))
	return staleIf(err, p.ID)
}

// staleIf turns a compare-and-set conflict into a 412.
func staleIf(err error, id string) error {
	if errors.Is(err, store.ErrConflict) {
		return apperr.Wrap(apperr.Stale, err, "rollout plan %q was changed by someone else meanwhile: read it again and re-apply your change", id)
	}
	return err
}

// planFor is the stored plan id, if the caller read version match: 404
// when there is none, 428 without If-Match, 412 when it is at another
// version.
func (c *Console) planFor(id string, match *uint64) (*store.RolloutPlan, error) {
	old, ok := c.opts.Store.RolloutPlan(id)
	switch {
	case !ok:
		return nil, apperr.New(apperr.NotFound, "no rollout plan %q", id)
	case match == nil:
		return nil, apperr.New(apperr.PreconditionMissing, "send If-Match with the ETag you read (version %d) so that no one else's change is overwritten", old.Version)
	case *match != old.Version:
		return nil, apperr.New(apperr.Stale, "rollout plan %q is at version %d, not %d: read it again and re-apply your change", id, old.Version, *match)
	}
	return old, nil
}

// checkPlan validates p (rollout.Validate) and checks that what it names
// exists: its policies, compliance policies and coexistence routes.
func (c *Console) checkPlan(p *store.RolloutPlan) error {
	if err := rollout.Validate(p); err != nil {
		return err
	}
	exists := func(field, typ string, ids []string) error {
		for i, id := range ids {
			if r, ok := c.opts.Store.RuleOf(typ, id); !ok || r.Deleted {
				return apperr.Field(fmt.Sprintf("%s[%d]", field, i), "no %s %q", typ, id)
			}
		}
		return nil
	}
	if err := exists("policies", store.RulePolicy, p.Policies); err != nil {
		return err
	}
	if err := exists("compliance", store.RuleCompliance, p.Compliance); err != nil {
		return err
	}
	if p.Coexistence != nil {
		return exists("coexistence.routes", store.RuleRoute, p.Coexistence.Routes)
	}
	return nil
}

// keepApplied carries the stored waves' applied dates into p and refuses
// (409) a change to a wave already applied: its name, members and date
// stay, and it cannot be removed. Waves not applied take none.
func keepApplied(old, p *store.RolloutPlan) error {
	for i := range p.Waves {
		p.Waves[i].AppliedAt = time.Time{}
	}
	for i, ow := range old.Waves {
		if ow.AppliedAt.IsZero() {
			continue
		}
		f := fmt.Sprintf("waves[%d]", i)
		if i >= len(p.Waves) {
			return conflictField("waves", "wave %q was applied on %s: it cannot be removed (append new waves instead)", ow.Name, ow.AppliedAt.Format("2006-01-02"))
		}
		w := &p.Waves[i]
		same := func(a, b any) bool { x, _ := json.Marshal(a); y, _ := json.Marshal(b); return string(x) == string(y) }
		var field string
		switch {
		case w.Name != ow.Name:
			field = f + ".name"
		case !same(w.Groups, ow.Groups):
			field = f + ".groups"
		case !same(w.Departments, ow.Departments):
			field = f + ".departments"
		case !same(w.People, ow.People):
			field = f + ".people"
		case w.Everyone != ow.Everyone:
			field = f + ".everyone"
		case !w.Start.Equal(ow.Start):
			field = f + ".start"
		}
		if field != "" {
			return conflictField(field, "wave %q was applied on %s: its members and date cannot change (append new waves instead)", ow.Name, ow.AppliedAt.Format("2006-01-02"))
		}
		w.AppliedAt = ow.AppliedAt
	}
	return nil
}

// planChanges names the parts of a plan an update changed.
func planChanges(old, p *store.RolloutPlan) []string {
	var out []string
	diff := func(name string, a, b any) {
		x, _ := json.Marshal(a)
		y, _ := json.Marshal(b)
		if string(x) != string(y) {
			out = append(out, name)
		}
	}
	diff("name", old.Name, p.Name)
	diff("policies", old.Policies, p.Policies)
	diff("compliance", old.Compliance, p.Compliance)
	diff("waves", old.Waves, p.Waves)
	diff("coexistence", old.Coexistence, p.Coexistence)
	diff("exit", old.Exit, p.Exit)
	if len(out) == 0 {
		out = append(out, "nothing")
	}
	return out
}

// conflictField is a 409 naming the field at fault.
func conflictField(field, format string, args ...any) error {
	e := apperr.New(apperr.Conflict, format, args...)
	e.Field = field
	return e
}

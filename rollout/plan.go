package rollout

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Limits on a plan's size: a plan is edited by people and evaluated on
// every request, so it stays small.
const (
	MaxWaves    = 20
	MaxMembers  = 200 // groups + departments + people in one wave
	MaxAttached = 50  // policies + compliance policies
	MaxRoutes   = 100
)

var slug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks a plan as an admin submitted it and normalises it in
// place (e-mail addresses, sorted-free trimming of names). The error is an
// apperr naming the field at fault, e.g. "waves[2].start".
func Validate(p *store.RolloutPlan) error {
	if !slug.MatchString(p.ID) {
		return apperr.Field("id", "a plan id is 1 to 63 lower-case letters, digits or '-', starting with a letter or digit")
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 200 {
		return apperr.Field("name", "a plan needs a name of at most 200 characters")
	}
	if len(p.Policies)+len(p.Compliance) > MaxAttached {
		return apperr.Field("policies", "a plan attaches at most %d policies", MaxAttached)
	}
	if err := ids("policies", p.Policies); err != nil {
		return err
	}
	if err := ids("compliance", p.Compliance); err != nil {
		return err
	}
	if len(p.Waves) == 0 {
		return apperr.Field("waves", "a plan needs at least its pilot wave")
	}
	if len(p.Waves) > MaxWaves {
		return apperr.Field("waves", "a plan has at most %d waves", MaxWaves)
	}
	names := map[string]bool{}
	for i := range p.Waves {
		w := &p.Waves[i]
		f := fmt.Sprintf("waves[%d]", i)
		if !slug.MatchString(w.Name) {
			return apperr.Field(f+".name", "a wave name is 1 to 63 lower-case letters, digits or '-'")
		}
		if names[w.Name] {
			return apperr.Field(f+".name", "wave %q is named twice", w.Name)
		}
		names[w.Name] = true
		if w.Start.IsZero() {
			return apperr.Field(f+".start", "a wave needs a start date")
		}
		if i > 0 && w.Start.Before(p.Waves[i-1].Start) {
			return apperr.Field(f+".start", "wave %q starts before the wave it follows", w.Name)
		}
		if len(w.Groups)+len(w.Departments)+len(w.People) > MaxMembers {
			return apperr.Field(f, "a wave names at most %d groups, departments and people", MaxMembers)
		}
		if !w.Everyone && len(w.Groups)+len(w.Departments)+len(w.People) == 0 {
			return apperr.Field(f, "wave %q names nobody: give groups, departments, people or everyone", w.Name)
		}
		if w.Everyone && i != len(p.Waves)-1 {
			return apperr.Field(f+".everyone", "only the last wave can take everyone")
		}
		if w.Tickets < 0 {
			return apperr.Field(f+".tickets", "a ticket count cannot be negative")
		}
		w.Groups, w.Departments = trimmed(w.Groups), trimmed(w.Departments)
		for j, e := range w.People {
			n, err := mailaddr.Normalize(e)
			if err != nil {
				return apperr.Field(fmt.Sprintf("%s.people[%d]", f, j), "not an e-mail address: %v", err)
			}
			w.People[j] = n
		}
	}
	if c := p.Coexistence; c != nil {
		if c.Deadline.IsZero() {
			return apperr.Field("coexistence.deadline", "a coexistence period needs a deadline")
		}
		if len(c.Routes) > MaxRoutes {
			return apperr.Field("coexistence.routes", "at most %d routes", MaxRoutes)
		}
		if err := ids("coexistence.routes", c.Routes); err != nil {
			return err
		}
	}
	e := p.Exit
	if e.MinEnrollment < 0 || e.MinEnrollment > 1 {
		return apperr.Field("exit.min_enrollment", "a rate is between 0 and 1")
	}
	if e.MinCompliance < 0 || e.MinCompliance > 1 {
		return apperr.Field("exit.min_compliance", "a rate is between 0 and 1")
	}
	if e.MaxTickets < 0 {
		return apperr.Field("exit.max_tickets", "cannot be negative")
	}
	if e.MaxWouldDeny < 0 {
		return apperr.Field("exit.max_would_deny", "cannot be negative")
	}
	return nil
}

// ids checks a list of rule ids: non-empty, no duplicates.
func ids(field string, list []string) error {
	seen := map[string]bool{}
	for i, id := range list {
		if strings.TrimSpace(id) == "" || len(id) > 200 {
			return apperr.Field(fmt.Sprintf("%s[%d]", field, i), "an id is 1 to 200 characters")
		}
		if seen[id] {
			return apperr.Field(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

func trimmed(list []string) []string {
	out := list[:0]
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Key is the name a policy and the proxy give to one wave of one plan:
// "<plan>/<wave>".
func Key(plan, wave string) string { return plan + "/" + wave }

// Current is the index of the plan's last applied wave, -1 when none is.
func Current(p *store.RolloutPlan) int {
	cur := -1
	for i, w := range p.Waves {
		if !w.AppliedAt.IsZero() {
			cur = i
		}
	}
	return cur
}

// Due is the index of the next wave to apply at now: the first wave not
// yet applied, if its date has come and the plan is not paused; -1
// otherwise. Waves are applied in order, one at a time.
func Due(p *store.RolloutPlan, now time.Time) int {
	if p.Paused {
		return -1
	}
	for i, w := range p.Waves {
		if w.AppliedAt.IsZero() {
			if now.Before(w.Start) {
				return -1
			}
			return i
		}
	}
	return -1
}

// Author is the author the plan's scheduled steps write policy versions
// and audit entries as: "rollout:<plan id>".
func Author(plan string) string { return "rollout:" + plan }

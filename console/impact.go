package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// Rules are the routes and policies in force, as the impact replay needs
// them: each route (origin and path prefix) with the id of its policy, and
// the compiled policies by id.
type Rules struct {
	Routes   map[string]string
	Policies map[string]*policy.Policy
}

// Enforced is what a route enforces now, person by person: its Policy
// where that policy is enforced (enforce mode, or report-only for the
// people of the rollout waves its enforce_for names), else the policy it
// shadows (Shadow; nil: every signed-in person is let through), as the
// proxy's route.decide does.
type Enforced struct {
	Policy, Shadow *policy.Policy
}

// evaluate is the decision Enforced gives in.
func (e Enforced) evaluate(in *policy.Input) policy.Decision {
	p := e.Policy
	if p == nil || (p.Mode == policy.ReportOnly && !p.EnforcedFor(in.Waves)) {
		p = e.Shadow
	}
	if p == nil {
		return policy.Decision{Outcome: policy.Allow}
	}
	return p.Evaluate(in)
}

// defaultImpactWindow is the window replayed without since.
const defaultImpactWindow = 30 * 24 * time.Hour

// impactRequest is the body of POST /api/v1/policies/impact.
type impactRequest struct {
	Policy    string `json:"policy"`
	Route     string `json:"route"`
	RouteText string `json:"route_text"`
	Since     string `json:"since"`
	Until     string `json:"until"`
}

// Impact is what a draft policy would change on recorded access.
type Impact struct {
	Policy       string       `json:"policy"`
	Routes       []string     `json:"routes"`
	Since        time.Time    `json:"since"`
	Until        time.Time    `json:"until"`
	Records      int          `json:"records"`
	NewlyDenied  ImpactChange `json:"newly_denied"`
	NewlyAllowed ImpactChange `json:"newly_allowed"`
	Unchanged    ImpactChange `json:"unchanged"`
}

// ImpactChange counts requests, people and devices in one class, grouped
// by the draft's reasons (newly denied) or rules (newly allowed).
type ImpactChange struct {
	Requests uint64        `json:"requests"`
	Users    int           `json:"users"`
	Devices  int           `json:"devices"`
	Groups   []ImpactGroup `json:"groups"`
	users    map[string]bool
	devices  map[string]bool
	byKey    map[string]*ImpactGroup
}

// ImpactGroup is the people and devices that share the draft's outcome
// for the same reasons: the reason codes and failing conditions (with the
// rule they belong to), or the rules that would allow them.
type ImpactGroup struct {
	Outcome  string                 `json:"outcome"`
	Rules    []string               `json:"rules"`
	Reasons  []store.DecisionReason `json:"reasons"`
	Requests uint64                 `json:"requests"`
	Users    []string               `json:"users"`
	Devices  []string               `json:"devices"`
	More     bool                   `json:"more"`
	users    map[string]bool
	devices  map[string]bool
}

func newChange() ImpactChange {
	return ImpactChange{Groups: []ImpactGroup{}, users: map[string]bool{}, devices: map[string]bool{}, byKey: map[string]*ImpactGroup{}}
}

// add counts r in the class; grouped adds it to the group of dec.
func (ch *ImpactChange) add(r *store.DecisionRecord, dec *policy.Decision, grouped bool) {
	ch.Requests += r.Count
	ch.users[r.User] = true
	if r.Device != "" {
		ch.devices[r.Device] = true
	}
	if !grouped {
		return
	}
	key := dec.Outcome.String() + "\x00" + strings.Join(dec.Rules, "\x00") + "\x01"
	for _, rs := range dec.Reasons {
		key += rs.Code + "\x00" + rs.Rule + "\x00"
	}
	gr := ch.byKey[key]
	if gr == nil {
		gr = &ImpactGroup{Outcome: dec.Outcome.String(), Rules: dec.Rules, Reasons: make([]store.DecisionReason, len(dec.Reasons)),
			Users: []string{}, Devices: []string{}, users: map[string]bool{}, devices: map[string]bool{}}
		if gr.Rules == nil {
			gr.Rules = []string{}
		}
		for i, rs := range dec.Reasons {
			gr.Reasons[i] = store.DecisionReason{Code: rs.Code, Message: rs.Message, Remediation: rs.Remediation, Rule: rs.Rule}
		}
		ch.byKey[key] = gr
	}
	gr.Requests += r.Count
	gr.Users, gr.More = listFirst(gr.users, gr.Users, r.User, gr.More)
	if r.Device != "" {
		gr.Devices, gr.More = listFirst(gr.devices, gr.Devices, r.Device, gr.More)
	}
}

// listFirst appends v the first time it is seen, up to store.MaxListed.
func listFirst(seen map[string]bool, list []string, v string, more bool) ([]string, bool) {
	if seen[v] {
		return list, more
	}
	seen[v] = true
	if len(list) >= store.MaxListed {
		return list, true
	}
	return append(list, v), more
}

func (ch *ImpactChange) finish() {
	ch.Users, ch.Devices = len(ch.users), len(ch.devices)
	for _, gr := range ch.byKey {
		sort.Strings(gr.Users)
		sort.Strings(gr.Devices)
		ch.Groups = append(ch.Groups, *gr)
	}
	sort.Slice(ch.Groups, func(i, j int) bool {
		a, b := ch.Groups[i], ch.Groups[j]
		return a.Requests > b.Requests || (a.Requests == b.Requests && fmt.Sprint(a.Rules, a.Reasons) < fmt.Sprint(b.Rules, b.Reasons))
	})
}

// ParseDraft compiles the YAML of one policy: a mapping (id, allow, …), or
// a document whose policies: list holds exactly one. Its shadows: is
// ignored: the replay compares the draft's own decisions; a draft
// (mode: draft) is evaluated as report-only. Errors are 422 naming the
// line.
func ParseDraft(src string) (*policy.Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		// policy.Parse words syntax errors with their line.
		_, perr := policy.Parse("policy", []byte(src))
		return nil, draftError(perr)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, apperr.AtLine("policy", 1, "policy must be the YAML of one policy (id:, allow:, deny: …)")
	}
	root := doc.Content[0]
	item := root
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "policies" {
			list := root.Content[i+1]
			if list.Kind != yaml.SequenceNode || len(list.Content) != 1 {
				return nil, apperr.AtLine("policy", list.Line, "policies must hold exactly one policy for the impact replay")
			}
			item = list.Content[0]
		}
	}
	if item.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(item.Content); i += 2 {
			switch k, v := item.Content[i].Value, item.Content[i+1]; {
			case k == "shadows":
				item.Content = append(item.Content[:i:i], item.Content[i+2:]...)
				i -= 2
			case k == "mode" && v.Value == rules.ModeDraft:
				v.Value = rules.ModeReportOnly // a draft is evaluated as it would be observed
			}
		}
	}
	pols, err := policy.ParsePolicies("policy", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{item}})
	if err != nil {
		return nil, draftError(err)
	}
	if len(pols) != 1 {
		return nil, apperr.AtLine("policy", 1, "policy must be the YAML of one policy")
	}
	return pols[0], nil
}

// draftError turns a policy error list into a 422 naming the first line.
func draftError(err error) error {
	var list policy.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		msg := list[0].Msg
		if len(list) > 1 {
			msg += fmt.Sprintf(" (and %d more problems)", len(list)-1)
		}
		return apperr.AtLine("policy", list[0].Line, "line %d: %s", list[0].Line, msg)
	}
	var one *policy.Error
	if errors.As(err, &one) {
		return apperr.AtLine("policy", one.Line, "line %d: %s", one.Line, one.Msg)
	}
	return apperr.AtLine("policy", 0, "the policy cannot be read")
}

// impactQuery is one impact replay: a draft policy on the routes that use
// it (or on Route), or a changed route (RouteDoc) whose recorded access is
// replayed with the policy it names.
type impactQuery struct {
	Policy       string     // the YAML of a draft policy; "" with RouteDoc
	Route        string     // the route to replay Policy on; "" every route using the draft's id
	RouteDoc     *rules.Doc // a changed route
	Since, Until time.Time
}

// policyImpact replays recorded access against the current policy and a
// draft (or a changed route's policy), and answers who would newly be
// denied, newly allowed, or see no change.
func (c *Console) policyImpact(g *gin.Context) {
	var req impactRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	q := impactQuery{Policy: req.Policy, Route: req.Route, Until: c.now().UTC()}
	switch {
	case strings.TrimSpace(req.RouteText) != "" && strings.TrimSpace(req.Policy) != "":
		c.fail(g, apperr.Field("route_text", "give policy (a draft policy) or route_text (a changed route), not both"))
		return
	case strings.TrimSpace(req.RouteText) != "":
		d, err := rules.ParseDoc(store.RuleRoute, "route_text", []byte(req.RouteText), "")
		if err != nil {
			c.fail(g, docError("route_text", err))
			return
		}
		q.RouteDoc = d
	case strings.TrimSpace(req.Policy) == "":
		c.fail(g, apperr.Field("policy", "policy is required: the YAML of the draft policy (or route_text: the YAML of a changed route)"))
		return
	}
	for _, f := range []struct {
		name, val string
		dst       *time.Time
	}{{"since", req.Since, &q.Since}, {"until", req.Until, &q.Until}} {
		if f.val != "" {
			t, err := time.Parse(time.RFC3339, f.val)
			if err != nil {
				c.fail(g, apperr.Field(f.name, "%s must be an RFC 3339 time such as 2026-01-31T00:00:00Z", f.name))
				return
			}
			*f.dst = t.UTC()
		}
	}
	if q.Since.IsZero() {
		q.Since = q.Until.Add(-defaultImpactWindow)
	}
	if !q.Since.Before(q.Until) {
		c.fail(g, apperr.Field("since", "since must be before until"))
		return
	}
	im, err := c.impact(g.Request.Context(), q)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, im)
}

// impact is the replay behind the API and the editor's preview.
func (c *Console) impact(ctx context.Context, q impactQuery) (*Impact, error) {
	if c.opts.InForce == nil {
		return nil, apperr.New(apperr.Unavailable, "this server has no policies to compare with")
	}
	var (
		routes  []string
		current map[string]Enforced
		draft   *policy.Policy
		err     error
	)
	if q.RouteDoc != nil {
		routes, current, draft, err = c.changedRoute(c.opts.InForce(), q.RouteDoc)
	} else {
		draft, err = c.parseDraft(q.Policy)
		if err == nil {
			routes, current, err = impactRoutes(c.opts.InForce(), draft, q.Route)
		}
	}
	if err != nil {
		return nil, err
	}
	dl, err := c.decisionLog()
	if err != nil {
		return nil, err
	}
	return ReplayImpact(ctx, dl, routes, current, draft, c.opts.Waves, q.Since, q.Until)
}

// parseDraft is ParseDraft with the compliance checks it names known.
func (c *Console) parseDraft(src string) (*policy.Policy, error) {
	draft, err := ParseDraft(src)
	if err != nil || c.opts.CheckNames == nil {
		return draft, err
	}
	known := map[string]bool{}
	for _, n := range c.opts.CheckNames() {
		known[n] = true
	}
	for _, ref := range draft.CheckRefs {
		if !known[ref.Name] {
			return nil, apperr.AtLine("policy", ref.Line, "line %d: unknown compliance check %q", ref.Line, ref.Name)
		}
	}
	return draft, nil
}

// changedRoute is the replay of a changed route: the access recorded under
// the route as it is in force (the stored route of the same id, else the
// changed route's address), each record evaluated with the policy the
// route enforces now and with the policy the changed route names (as it
// decides: a report-only one is replayed as if enforced, like a draft
// policy). A route with nothing in force yet has nothing to replay.
func (c *Console) changedRoute(in Rules, d *rules.Doc) ([]string, map[string]Enforced, *policy.Policy, error) {
	next := in.Policies[d.Route.Policy]
	if next == nil {
		return nil, nil, nil, apperr.Field("policy", "the route's policy %q is not in force (a draft or no such policy): only a policy that applies to traffic can be replayed", d.Route.Policy)
	}
	key := strings.TrimSuffix(d.Route.From, "/")
	if r, ok := c.opts.Store.RuleOf(store.RuleRoute, d.ID); ok && !r.Deleted {
		if cur, err := rules.DocOf(r); err == nil && cur != nil {
			key = strings.TrimSuffix(cur.Route.From, "/")
		}
	}
	current := map[string]Enforced{}
	if _, ok := in.Routes[key]; !ok {
		return nil, current, next, nil // nothing in force there yet: nothing recorded
	}
	p, err := in.enforcedOn(key)
	if err != nil {
		return nil, nil, nil, err
	}
	current[key] = p
	return []string{key}, current, next, nil
}

// docError turns a route or policy parse error (naming its line) into a
// 422 on field.
func docError(field string, err error) error {
	var list confyaml.ErrorList
	var ce *config.Error
	switch {
	case errors.As(err, &list) && len(list) > 0:
		return apperr.AtLine(field, list[0].Line, "%s", err.Error())
	case errors.As(err, &ce):
		return apperr.AtLine(field, ce.Line, "%s", err.Error())
	}
	return err
}

// impactRoutes picks the routes to replay and each one's current policy:
// the named route, or every route whose policy has the draft's id.
func impactRoutes(in Rules, draft *policy.Policy, route string) ([]string, map[string]Enforced, error) {
	current := map[string]Enforced{}
	var routes []string
	if route != "" {
		route = strings.TrimSuffix(route, "/")
		_, ok := in.Routes[route]
		if !ok {
			return nil, nil, apperr.Field("route", "no route is %q (give the route's from URL, with its path prefix if it has one)", route)
		}
		routes = append(routes, route)
	} else {
		for rt, id := range in.Routes {
			if id == draft.ID {
				routes = append(routes, rt)
			}
		}
		if len(routes) == 0 {
			return nil, nil, apperr.Field("route", "no route uses policy %q; name the route to replay", draft.ID)
		}
	}
	sort.Strings(routes)
	for _, rt := range routes {
		p, err := in.enforcedOn(rt)
		if err != nil {
			return nil, nil, err
		}
		current[rt] = p
	}
	return routes, current, nil
}

// enforcedOn is what route rt enforces now: its policy and, for a
// report-only one, the policy it shadows.
func (in Rules) enforcedOn(rt string) (Enforced, error) {
	p := in.Policies[in.Routes[rt]]
	if p == nil {
		return Enforced{}, apperr.New(apperr.Internal, "route %s has no compiled policy", rt)
	}
	e := Enforced{Policy: p}
	if p.Mode == policy.ReportOnly {
		e.Shadow = in.Policies[p.Shadows]
	}
	return e, nil
}

// ReplayImpact evaluates every record of routes in [since, until) with
// what the route enforces now (current: for a report-only policy, the
// policy itself for the people of its enforce_for waves, else what it
// shadows, else every signed-in person let through) and with draft,
// through policy.Evaluate as live traffic is, and sorts them into newly
// denied (allowed now, not by the draft), newly allowed, and unchanged.
// Step-up counts as not allowed. waves (nil: no rollout plan) gives a
// person's rollout waves as the plans say today.
func ReplayImpact(ctx context.Context, dl store.DecisionLog, routes []string, current map[string]Enforced,
	draft *policy.Policy, waves func(email string, groups []string) []string, since, until time.Time) (*Impact, error) {
	im := &Impact{Policy: draft.ID, Routes: routes, Since: since, Until: until,
		NewlyDenied: newChange(), NewlyAllowed: newChange(), Unchanged: newChange()}
	for _, rt := range routes {
		cur := current[rt]
		q := store.DecisionQuery{Route: rt, Since: since, Until: until}
		err := dl.ScanDecisions(ctx, q, func(r *store.DecisionRecord) error {
			im.Records++
			in := proxy.ReplayInput(r)
			if waves != nil {
				in.Waves = waves(in.Email, in.Groups)
			}
			now := cur.evaluate(&in)
			next := draft.Evaluate(&in)
			switch {
			case now.Outcome.Allowed() && !next.Outcome.Allowed():
				im.NewlyDenied.add(r, &next, true)
			case !now.Outcome.Allowed() && next.Outcome.Allowed():
				im.NewlyAllowed.add(r, &next, true)
			default:
				im.Unchanged.add(r, &next, false)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	im.NewlyDenied.finish()
	im.NewlyAllowed.finish()
	im.Unchanged.finish()
	return im, nil
}

package rules

import (
	"fmt"
	"sort"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// CompileFunc compiles and cross-checks a config's policies and routes
// (the server's CompilePolicies): the same checks as a config file gets.
type CompileFunc func(*config.Config) ([]*policy.Policy, error)

// Set is a compiled set of rules.
type Set struct {
	// Config is the effective config: the base settings with these routes
	// and the policies that apply to traffic (not drafts).
	Config *config.Config
	// Policies are the compiled policies of Config.
	Policies []*policy.Policy
	Routes   []*Doc
	All      []*Doc // policies, drafts included
	// Candidates are every policy compiled, drafts included (as
	// report-only): what the what-if may evaluate by id.
	Candidates []*policy.Policy
}

// DocOf parses a stored rule; a tombstone gives nil.
func DocOf(r *store.Rule) (*Doc, error) {
	if r.Deleted {
		return nil, nil
	}
	d, err := ParseDoc(r.Type, fmt.Sprintf("%s %q version %d", r.Type, r.ID, r.Version), []byte(r.Text), r.ID)
	if err != nil || r.InForce == "" {
		return d, err
	}
	if d.InForce, err = ParseDoc(r.Type, fmt.Sprintf("%s %q version %d", r.Type, r.ID, r.InForceVersion), []byte(r.InForce), r.ID); err != nil {
		return nil, err
	}
	d.InForceVersion = r.InForceVersion
	return d, nil
}

// InForceID is the id under which the enforced version v of policy id is
// compiled while a newer version is observed in report-only: "staff@v3".
// Policy ids cannot hold '@', so it names no other policy.
func InForceID(id string, v uint64) string { return fmt.Sprintf("%s@v%d", id, v) }

// withInForce compiles, for each report-only policy that replaced an
// enforced version (Doc.InForce) and names no shadows: of its own, that
// version under InForceID, and makes the report-only policy shadow it:
// the route keeps enforcing what was in force while the change is
// observed.
func withInForce(file string, docs []*Doc, pols []*policy.Policy) ([]*policy.Policy, error) {
	byID := make(map[string]*policy.Policy, len(pols))
	for _, p := range pols {
		byID[p.ID] = p
	}
	for _, d := range docs {
		p := byID[d.ID]
		if d.InForce == nil || d.Mode != ModeReportOnly || p == nil || p.Shadows != "" {
			continue
		}
		ps, err := policy.ParsePolicies(fmt.Sprintf("%s (version %d, in force)", file, d.InForceVersion), seq(withMode(d.InForce.Node, ModeEnforce)))
		if err != nil {
			return nil, err
		}
		q := ps[0]
		q.ID = InForceID(d.ID, d.InForceVersion)
		p.Shadows = q.ID
		pols = append(pols, q)
	}
	return pols, nil
}

// Compile builds the effective config from base and the given routes and
// policies and compiles it. A route naming a draft policy is an error:
// drafts never apply to traffic.
func Compile(base *config.Config, routes, policies []*Doc, compile CompileFunc) (*Set, error) {
	routes = sortedDocs(routes)
	policies = sortedDocs(policies)
	eff := *base
	eff.File = "rules"
	if base.DemoImplicit {
		demo := len(routes) == 0
		eff.Demo = &demo
	}
	eff.Routes = make([]config.Route, 0, len(routes))
	routeNodes := make([]*yaml.Node, 0, len(routes))
	for _, d := range routes {
		eff.Routes = append(eff.Routes, d.Route)
		routeNodes = append(routeNodes, d.Node)
	}
	var polNodes []*yaml.Node
	mode := map[string]string{}
	for _, d := range policies {
		mode[d.ID] = d.Mode
		if d.Mode != ModeDraft {
			polNodes = append(polNodes, d.Node)
		}
	}
	for _, d := range routes {
		if _, ok := mode[d.Route.Policy]; !ok && !(d.Route.Policy == "demo" && eff.DemoEnabled()) {
			return nil, &config.Error{File: fmt.Sprintf("route %q", d.ID),
				Msg: fmt.Sprintf("names policy %q, which is not defined", d.Route.Policy)}
		}
		if mode[d.Route.Policy] == ModeDraft {
			return nil, &config.Error{File: fmt.Sprintf("route %q", d.ID),
				Msg: fmt.Sprintf("names policy %q, which is a draft: drafts never apply to traffic; promote it to report-only or enforce first", d.Route.Policy)}
		}
	}
	eff.Policies = *seq(polNodes...)
	eff.Root = &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "routes"}, seq(routeNodes...),
		{Kind: yaml.ScalarNode, Value: "policies"}, &eff.Policies,
	}}}}
	if err := eff.Validate(); err != nil {
		return nil, err
	}
	pols, err := compile(&eff)
	if err != nil {
		return nil, err
	}
	if pols, err = withInForce(eff.File, policies, pols); err != nil {
		return nil, err
	}
	set := &Set{Config: &eff, Policies: pols, Routes: routes, All: policies, Candidates: pols}
	var drafts []*yaml.Node
	for _, d := range policies {
		if d.Mode == ModeDraft {
			drafts = append(drafts, compilable(d.Node))
		}
	}
	if len(drafts) > 0 {
		// Each draft was compiled alone when it was written; together with
		// the others it could only clash on rule ids, which the what-if
		// does not care about.
		for _, n := range drafts {
			if ps, err := policy.ParsePolicies(eff.File, seq(n)); err == nil {
				set.Candidates = append(set.Candidates, ps...)
			}
		}
	}
	return set, nil
}

func sortedDocs(ds []*Doc) []*Doc {
	out := make([]*Doc, 0, len(ds))
	for _, d := range ds {
		if d != nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FromStore parses the store's current routes and policies (tombstones
// left out). A rule that does not parse is an error naming it.
func FromStore(st *store.Store) (routes, policies []*Doc, err error) {
	if routes, err = DocsOf(st.Routes()); err != nil {
		return nil, nil, err
	}
	if policies, err = DocsOf(st.Policies()); err != nil {
		return nil, nil, err
	}
	return routes, policies, nil
}

// replace returns ds with the doc of id replaced by d (removed when d is
// nil, added when absent).
func replace(ds []*Doc, id string, d *Doc) []*Doc {
	out := make([]*Doc, 0, len(ds)+1)
	for _, x := range ds {
		if x.ID != id {
			out = append(out, x)
		}
	}
	if d != nil {
		out = append(out, d)
	}
	return out
}

package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
)

// Simulation is the what-if result for one hypothetical request.
type Simulation struct {
	// Route is the matched route (origin and path prefix).
	Route string `json:"route"`
	// Decision is what the proxy would enforce.
	Decision policy.Decision `json:"decision"`
	// Observed is what a report-only policy on the route would have
	// decided (logged, not enforced); nil otherwise.
	Observed *policy.Decision `json:"observed,omitempty"`
}

// Simulator answers what-if questions against a set of routes and policies
// exactly as the live proxy decides.
type Simulator struct {
	t *table
}

// NewSimulator compiles routes and policies without any upstream.
func NewSimulator(routes []config.Route, policies []*policy.Policy) (*Simulator, error) {
	rs := make([]Route, len(routes))
	for i, r := range routes {
		rs[i] = Route{Route: r, Handler: http.NotFoundHandler()}
	}
	t, err := compile(rs, policies, nil, nil)
	if err != nil {
		return nil, err
	}
	return &Simulator{t: t}, nil
}

// Simulate evaluates in for a request to target. in.Method and in.Path are
// taken from the arguments when empty.
func (s *Simulator) Simulate(target string, in policy.Input) (*Simulation, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("route must be an https:// URL such as https://wiki.example.com/page (got %q)", target)
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	rt := s.t.match(strings.ToLower(u.Hostname()), path)
	if rt == nil {
		return nil, fmt.Errorf("no route serves %s", target)
	}
	if in.Path == "" {
		in.Path = path
	}
	if in.Method == "" {
		in.Method = http.MethodGet
	}
	dec, observed := rt.decide(&in)
	return &Simulation{Route: rt.from + rt.prefix, Decision: dec, Observed: observed}, nil
}

package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
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
	// candidates are policies the what-if may evaluate in place of the
	// route's own (Query.Policy): every stored policy, drafts included.
	candidates map[string]*policy.Policy
	// ro is the rollout plans the what-if decides with (see WithRollout).
	ro *rolloutState
}

// WithCandidates returns a copy of s whose what-if may evaluate any of ps,
// by id, in place of a route's policy (see Query.Policy): how a draft
// policy is tried before any route uses it.
func (s *Simulator) WithCandidates(ps []*policy.Policy) *Simulator {
	out := &Simulator{t: s.t, ro: s.ro, candidates: make(map[string]*policy.Policy, len(ps))}
	for _, p := range ps {
		out.candidates[p.ID] = p
	}
	return out
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
	rt, in, err := s.route(target, in)
	if err != nil {
		return nil, err
	}
	if in.Waves == nil {
		in.Waves = s.ro.waves(in.Email, in.Groups)
	}
	dec, observed := rt.decide(&in, s.ro)
	return &Simulation{Route: rt.from + rt.prefix, Decision: dec, Observed: observed}, nil
}

// route finds the route serving target and completes in's method and path.
func (s *Simulator) route(target string, in policy.Input) (*route, policy.Input, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, in, fmt.Errorf("route must be an https:// URL such as https://wiki.example.com/page (got %q)", target)
	}
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	host := strings.ToLower(u.Hostname())
	// The same path rule as the live proxy: decide on the normalised path.
	if _, ok := normalizePath(u, s.t.fold[host]); !ok {
		return nil, in, fmt.Errorf("the proxy refuses the path of %s as ambiguous (400): see the path rule in docs/proxy.md", target)
	}
	path := u.Path
	rt := s.t.match(host, path)
	if rt == nil {
		return nil, in, fmt.Errorf("no route serves %s", target)
	}
	if in.Path == "" {
		in.Path = path
	}
	if in.Method == "" {
		in.Method = http.MethodGet
	}
	return rt, in, nil
}

// Query is a what-if request as the CLI flags and the API's JSON spell it.
type Query struct {
	Email  string `json:"email"`
	Groups string `json:"groups"`
	IdP    string `json:"idp"`
	MFAAge string `json:"mfa_age"`
	// SessionAge is the time since the person signed in (empty: just now).
	SessionAge  string `json:"session_age"`
	DeviceTrust string `json:"device_trust"`
	Ownership   string `json:"ownership"`
	Platform    string `json:"platform"`
	Compliant   bool   `json:"compliant"`
	Checks      string `json:"checks"`
	IP          string `json:"ip"`
	Country     string `json:"country"`
	At          string `json:"at"`
	Method      string `json:"method"`
	// KeyProtection is where the key of the certificate the request
	// presents lives: hardware, attested (hardware, verified by TPM key
	// attestation) or software (empty: software). A request whose key is
	// not hardware is at most at trust medium, as in the proxy.
	KeyProtection string `json:"key_protection"`
	// Policy, when set, is the id of a policy (any mode, drafts included)
	// to evaluate for the route's request instead of the route's own.
	Policy string `json:"policy,omitempty"`
}

// FieldError names the query field at fault.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Input turns the query into a policy input for a signed-in user.
func (q Query) Input(now time.Time) (policy.Input, error) {
	in := policy.Input{Authenticated: true, Email: q.Email, IdP: q.IdP, Method: strings.ToUpper(q.Method), Country: strings.ToUpper(q.Country)}
	in.UserID = q.Email
	if q.Groups != "" {
		in.Groups = strings.Split(q.Groups, ",")
	}
	in.Now = now
	if q.At != "" {
		t, err := time.Parse(time.RFC3339, q.At)
		if err != nil {
			return in, &FieldError{"at", "must be an RFC 3339 time such as 2026-11-27T09:30:00+01:00"}
		}
		in.Now = t
	}
	if q.MFAAge != "" {
		d, err := time.ParseDuration(q.MFAAge)
		if err != nil || d < 0 {
			return in, &FieldError{"mfa_age", "must be a duration such as 5m"}
		}
		in.MFAAt = in.Now.Add(-d)
	}
	in.SignedInAt = in.Now
	if q.SessionAge != "" {
		d, err := time.ParseDuration(q.SessionAge)
		if err != nil || d < 0 {
			return in, &FieldError{"session_age", "must be a duration such as 9h"}
		}
		in.SignedInAt = in.Now.Add(-d)
	}
	if q.IP != "" {
		ip, err := netip.ParseAddr(q.IP)
		if err != nil {
			return in, &FieldError{"ip", fmt.Sprintf("%q is not an IP address", q.IP)}
		}
		in.IP = ip.Unmap()
	}
	in.Device.Ownership = store.OwnershipUnmanaged
	if q.Ownership != "" {
		o, err := store.ParseOwnership(q.Ownership)
		if err != nil {
			return in, &FieldError{"ownership", err.Error()}
		}
		in.Device.Ownership = o
	}
	key, source := strings.ToLower(q.KeyProtection), ""
	switch key {
	case "", store.KeyHardware, store.KeySoftware:
	case policy.KeyAttested:
		key, source = store.KeyHardware, store.KeySourceTPM
	default:
		return in, &FieldError{"key_protection", fmt.Sprintf("must be hardware, attested or software, not %q", q.KeyProtection)}
	}
	if q.DeviceTrust != "" {
		in.Device.Key, in.Device.KeySource = key, source
		t, err := store.ParseTrust(q.DeviceTrust)
		if err != nil {
			return in, &FieldError{"device_trust", err.Error()}
		}
		in.Device.ID, in.Device.Trust, in.Device.Managed, in.Device.LastSeen = "what-if-device", t, true, in.Now
		in.Device.Platform, in.Device.Compliant = q.Platform, q.Compliant
		if q.Checks != "" {
			in.Device.PassingChecks = strings.Split(q.Checks, ",")
		}
		capTrust(&in.Device)
	}
	return in, nil
}

// Ask answers a what-if query for target at now (unless the query names a
// time): the CLI and the API both go through here.
func (s *Simulator) Ask(target string, q Query, now time.Time) (*Simulation, error) {
	in, err := q.Input(now)
	if err != nil {
		return nil, err
	}
	if q.Policy == "" {
		return s.Simulate(target, in)
	}
	p, ok := s.candidates[q.Policy]
	if !ok {
		return nil, &FieldError{Field: "policy", Msg: fmt.Sprintf("no policy %q", q.Policy)}
	}
	rt, in, err := s.route(target, in)
	if err != nil {
		return nil, err
	}
	return &Simulation{Route: rt.from + rt.prefix, Decision: p.Evaluate(&in)}, nil
}

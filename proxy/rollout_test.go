package proxy_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
)

// rolloutPolicies: "gated" is report-only, enforced for the pilot wave of
// plan mdm; "open" lets any signed-in staff member in, from any device.
const rolloutPolicies = `
policies:
  - id: gated
    mode: report-only
    enforce_for:
      rollout: mdm
      waves: [pilot]
    allow:
      and:
        - group: {has: staff}
        - device: {managed: true}
  - id: open
    allow:
      and:
        - group: {has: staff}
`

// rolloutEnv is the proxy under test with the rollout routes loaded and
// plan p in the store and in the proxy.
func rolloutEnv(t *testing.T, p *store.RolloutPlan) (*env, *rollout.Index, *proxy.Simulator) {
	t.Helper()
	e := newEnv(t)
	pols, err := policy.Parse("rollout.yaml", []byte(rolloutPolicies))
	if err != nil {
		t.Fatal(err)
	}
	routes := []config.Route{
		{From: "https://gated.localhost", To: e.upstream.URL, Policy: "gated"},
		{ID: "app", From: "https://app.localhost", To: e.upstream.URL, Policy: "open"},
	}
	prs := make([]proxy.Route, len(routes))
	for i, r := range routes {
		prs[i] = proxy.Route{Route: r}
	}
	if err := e.p.Load(prs, pols); err != nil {
		t.Fatal(err)
	}
	if err := rollout.Validate(p); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Write(context.Background(), store.Put(p)); err != nil {
		t.Fatal(err)
	}
	x := rollout.Build(e.st)
	e.p.SetRollout(x)
	sim, err := proxy.NewSimulator(routes, pols)
	if err != nil {
		t.Fatal(err)
	}
	return e, x, sim.WithRollout(x, "https://portier.localhost")
}

func mdmPlan(start time.Time) *store.RolloutPlan {
	return &store.RolloutPlan{ID: "mdm", Name: "MDM 2027", Policies: []string{"gated"},
		Waves: []store.RolloutWave{
			{Name: "pilot", People: []string{"ada@example.com"}, Start: start},
			{Name: "sales", Groups: []string{"sales"}, Start: start.AddDate(0, 0, 14)},
		}}
}

func TestReportOnlyPolicyEnforcedForItsWaves(t *testing.T) {
	e, _, sim := rolloutEnv(t, mdmPlan(time.Now()))
	c := e.client(nil) // no device: "gated" denies, if enforced
	for _, tc := range []struct {
		email  string
		groups []string
		want   int
	}{
		{"ada@example.com", []string{"staff"}, http.StatusForbidden},   // in the pilot: enforced
		{"bob@example.com", []string{"staff", "sales"}, http.StatusOK}, // in sales, not named by enforce_for: observed only
		{"carl@example.com", []string{"staff"}, http.StatusOK},         // in no wave
	} {
		cookie, _ := e.sessionOn("gated.localhost", tc.email, tc.groups...)
		resp, body := e.do(c, "GET", "https://gated.localhost/", cookie, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.email, resp.StatusCode, tc.want, body)
		}
		res, err := sim.Ask("https://gated.localhost/", proxy.Query{Email: tc.email, Groups: strings.Join(tc.groups, ",")}, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision.Outcome.Allowed() != (tc.want == http.StatusOK) {
			t.Errorf("%s: the what-if says %s, the proxy answered %d", tc.email, res.Decision.Outcome, resp.StatusCode)
		}
		enforced := tc.want == http.StatusForbidden
		if enforced && (res.Observed != nil || res.Decision.ReportOnly) {
			t.Errorf("%s: a wave member's decision is reported as observed: %+v", tc.email, res)
		}
		if !enforced && (res.Observed == nil || res.Observed.Outcome.Allowed()) {
			t.Errorf("%s: outside the waves the policy's denial should be observed, got %+v", tc.email, res.Observed)
		}
	}
	if !strings.Contains(e.logText(), `"user":"ada@example.com"`) {
		t.Errorf("the wave member's denial was not logged: %s", e.logText())
	}
}

// ackCookieHeader is a Cookie header with a session and the interstitial's
// acknowledgment.
func ackCookieHeader(session string) map[string]string {
	return map[string]string{"Cookie": identity.SessionCookie + "=" + session + "; __Host-portier_coexistence=1"}
}

func TestCoexistenceInterstitialThenDeadline(t *testing.T) {
	start := time.Now()
	p := mdmPlan(start)
	deadline := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
	p.Coexistence = &store.Coexistence{Deadline: deadline, Routes: []string{"app"}}
	e, _, sim := rolloutEnv(t, p)
	e.clk.Set(deadline.Add(-2 * time.Hour))
	cookie, _ := e.sessionOn("app.localhost", "carl@example.com", "staff")
	c := e.client(nil)
	cert := e.device("dev_managed", store.TrustHigh, store.OwnershipCorporate) // issued now: valid for the whole test

	// A navigation from an unmanaged device: the interstitial, in the
	// browser's language.
	resp, body := e.do(c, "GET", "https://app.localhost/wiki/page?x=1", cookie, map[string]string{"Sec-Fetch-Mode": "navigate"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "2030-03-01") || !strings.Contains(body, "https://portier.localhost/enroll") ||
		!strings.Contains(body, `value="/wiki/page?x=1"`) || strings.Contains(body, "upstream says hi") {
		t.Fatalf("no interstitial: %d %s", resp.StatusCode, body)
	}
	_, body = e.do(c, "GET", "https://app.localhost/", cookie, map[string]string{"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
	if !strings.Contains(body, `lang="fr"`) || !strings.Contains(body, "Enrôler un appareil") {
		t.Errorf("the interstitial is not in French: %s", body)
	}
	// A script's request is not interrupted; the route's policy decides.
	resp, body = e.do(c, "GET", "https://app.localhost/api", cookie, map[string]string{"Accept": "application/json", "Sec-Fetch-Mode": "cors"})
	if resp.StatusCode != http.StatusOK || body != "upstream says hi" {
		t.Errorf("a fetch was interrupted: %d %s", resp.StatusCode, body)
	}
	// The what-if agrees: before the deadline, the policy decides.
	if res, err := sim.Ask("https://app.localhost/", proxy.Query{Email: "carl@example.com", Groups: "staff"}, e.clk.Now()); err != nil || !res.Decision.Outcome.Allowed() {
		t.Errorf("what-if before the deadline: %+v %v", res, err)
	}

	// Continue: a same-origin POST sets the acknowledgment and goes back.
	post := func(origin, back string) *http.Response {
		form := url.Values{"return": {back}}
		req, _ := http.NewRequest("POST", e.srv.URL+"/.portier/coexistence/continue", strings.NewReader(form.Encode()))
		req.Host = "app.localhost"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		req.AddCookie(&http.Cookie{Name: identity.SessionCookie, Value: cookie})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp = post("https://app.localhost", "/wiki/page?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/wiki/page?x=1" {
		t.Fatalf("continue: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	set := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(set, "__Host-portier_coexistence=1;") || !strings.Contains(set, "Max-Age=86400") || !strings.Contains(set, "Secure") {
		t.Errorf("acknowledgment cookie: %q", set)
	}
	for _, evil := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example"} {
		if loc := post("https://app.localhost", evil).Header.Get("Location"); loc != "/" {
			t.Errorf("return %q redirected to %q, want /", evil, loc)
		}
	}
	if resp := post("https://evil.example", "/"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("a cross-site continue was accepted: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}

	// Acknowledged: through to the application, without the cookie.
	resp, body = e.do(c, "GET", "https://app.localhost/wiki/page", "", ackCookieHeader(cookie))
	if resp.StatusCode != http.StatusOK || body != "upstream says hi" {
		t.Fatalf("after continue: %d %s", resp.StatusCode, body)
	}
	if got := e.got.last().Header.Get("Cookie"); strings.Contains(got, "coexistence") {
		t.Errorf("the acknowledgment cookie reached the upstream: %q", got)
	}

	// From the deadline: denied, acknowledged or not, with the reason.
	e.clk.Set(deadline)
	resp, body = e.do(c, "GET", "https://app.localhost/wiki/page", "", ackCookieHeader(cookie))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "2030-03-01") || !strings.Contains(body, "/enroll") {
		t.Errorf("after the deadline: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(e.logText(), proxy.CodeCoexistenceDeadline) {
		t.Errorf("the denial's reason is not logged: %s", e.logText())
	}
	res, err := sim.Ask("https://app.localhost/", proxy.Query{Email: "carl@example.com", Groups: "staff"}, e.clk.Now())
	if err != nil || res.Decision.Outcome != policy.Deny || len(res.Decision.Reasons) != 1 || res.Decision.Reasons[0].Code != proxy.CodeCoexistenceDeadline {
		t.Errorf("what-if after the deadline: %+v %v", res, err)
	}
	// An enrolled device is let through, before and after the deadline,
	// and never sees the interstitial.
	for _, at := range []time.Time{deadline.Add(-time.Hour), deadline.Add(time.Hour)} {
		e.clk.Set(at)
		resp, body = e.do(e.client(&cert), "GET", "https://app.localhost/", cookie, map[string]string{"Sec-Fetch-Mode": "navigate"})
		if resp.StatusCode != http.StatusOK || body != "upstream says hi" {
			t.Errorf("managed device at %s: %d %s", at, resp.StatusCode, body)
		}
	}
	// A route the plan does not name is not concerned.
	gated, _ := e.sessionOn("gated.localhost", "carl@example.com", "staff")
	if resp, body := e.do(c, "GET", "https://gated.localhost/", gated, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("route outside the coexistence: %d %s", resp.StatusCode, body)
	}
}

func TestCoexistenceContinueRefusesWhatItShould(t *testing.T) {
	e := newEnv(t)
	c := e.client(nil)
	send := func(method string, body string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(method, e.srv.URL+"/.portier/coexistence/continue", strings.NewReader(body))
		req.Host = "wiki.localhost"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := send("GET", "", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	if resp := send("POST", "return=/", map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site without Origin: %d", resp.StatusCode)
	}
	big := "return=/" + strings.Repeat("a", 16<<10)
	if resp := send("POST", big, map[string]string{"Origin": "https://wiki.localhost"}); resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("oversized body: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

package proxy_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/store"
)

// lastDecision is the newest non-report-only decision log entry.
func lastDecision(t *testing.T, logs string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var m map[string]any
		if json.Unmarshal([]byte(lines[i]), &m) == nil && m["msg"] == "decision" && m["report_only"] == false {
			return m
		}
	}
	t.Fatal("no decision logged")
	return nil
}

func TestSimulatorMatchesLive(t *testing.T) {
	e := newEnv(t)
	pols, err := policy.Parse("test.yaml", []byte(testPolicies))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := proxy.NewSimulator([]config.Route{
		{From: "https://wiki.localhost", To: "http://x", Policy: "staff"},
		{From: "https://wiki.localhost/admin", To: "http://x", Policy: "stepup"},
		{From: "https://files.localhost", To: "http://x", Policy: "byod"},
		{From: "https://new.localhost", To: "http://x", Policy: "staff-v2"},
	}, pols)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, url, method string
		groups            []string
		trust             store.Trust
		device            bool
	}{
		{"staff high", "https://wiki.localhost/", "GET", []string{"staff"}, store.TrustHigh, true},
		{"staff low", "https://wiki.localhost/", "GET", []string{"staff"}, store.TrustLow, true},
		{"no device", "https://wiki.localhost/", "GET", []string{"staff"}, 0, false},
		{"not staff", "https://wiki.localhost/", "GET", []string{"sales"}, store.TrustHigh, true},
		{"admin needs mfa", "https://wiki.localhost/admin/x", "GET", []string{"staff"}, store.TrustHigh, true},
		{"admin through dot segments", "https://wiki.localhost/pub/../admin/x", "GET", []string{"staff"}, store.TrustHigh, true},
		{"admin through double slash", "https://wiki.localhost//admin/x", "GET", []string{"staff"}, store.TrustHigh, true},
		{"byod post", "https://files.localhost/x", "GET", []string{"staff"}, 0, false},
		{"report-only", "https://new.localhost/", "GET", []string{"staff"}, store.TrustHigh, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(tc.url)
			cookie, _ := e.sessionOn(u.Hostname(), "sim"+string(rune('a'+i))+"@example.com", tc.groups...)
			c := e.client(nil)
			q := proxy.Query{Email: "sim" + string(rune('a'+i)) + "@example.com", Groups: strings.Join(tc.groups, ","), Method: tc.method}
			if tc.device {
				cert := e.device("dev_sim"+string(rune('a'+i)), tc.trust, store.OwnershipCorporate)
				c = e.client(&cert)
				q.DeviceTrust, q.Ownership = tc.trust.String(), "corporate"
			}
			e.do(c, tc.method, tc.url, cookie, nil)
			live := lastDecision(t, e.logText())
			res, err := sim.Ask(tc.url, q, e.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.url, "admin") && res.Route != "https://wiki.localhost/admin" {
				t.Errorf("simulated on route %s, want https://wiki.localhost/admin", res.Route)
			}
			if live["outcome"] != res.Decision.Outcome.String() {
				t.Errorf("live outcome %v, simulated %v", live["outcome"], res.Decision.Outcome)
			}
			var simReasons []string
			for _, r := range res.Decision.Reasons {
				simReasons = append(simReasons, r.Code)
			}
			liveReasons, _ := json.Marshal(live["reasons"])
			simJSON, _ := json.Marshal(simReasons)
			if simReasons == nil {
				simJSON = []byte("[]")
			}
			if string(liveReasons) != string(simJSON) {
				t.Errorf("live reasons %s, simulated %s", liveReasons, simJSON)
			}
			liveRules, _ := json.Marshal(live["rules"])
			simRules, _ := json.Marshal(res.Decision.Rules)
			if string(liveRules) != string(simRules) && !(string(liveRules) == "null" && string(simRules) == "null") {
				t.Errorf("live rules %s, simulated %s", liveRules, simRules)
			}
		})
	}
}

// TestSimulatorKeyProtection: the what-if knows where the device key lives
// and refuses a value it does not know.
func TestSimulatorKeyProtection(t *testing.T) {
	pols, err := policy.Parse("t.yaml", []byte(`
policies:
  - id: hw
    allow:
      and:
        - device: {trust: {gte: high}, ownership: corporate, key: hardware}
`))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := proxy.NewSimulator([]config.Route{{From: "https://hr.localhost", To: "http://127.0.0.1:1", Policy: "hw"}}, pols)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		key  string
		want policy.Outcome
	}{{"hardware", policy.Allow}, {"HARDWARE", policy.Allow}, {"software", policy.Deny}, {"", policy.Deny}} {
		res, err := sim.Ask("https://hr.localhost/", proxy.Query{Email: "a@example.com", DeviceTrust: "high", Ownership: "corporate", KeyProtection: tc.key}, now)
		if err != nil || res.Decision.Outcome != tc.want {
			t.Errorf("key_protection %q: %v %v, want %v", tc.key, res, err, tc.want)
		}
	}
	_, err = sim.Ask("https://hr.localhost/", proxy.Query{DeviceTrust: "high", KeyProtection: "tpm"}, now)
	var fe *proxy.FieldError
	if !errors.As(err, &fe) || fe.Field != "key_protection" {
		t.Errorf("key_protection tpm: %v, want a key_protection field error", err)
	}
}

// TestSimulatorAttestedKeyAndTrustCap: the what-if answers as the proxy
// does: `attested` is a hardware key Portier verified, and a request
// whose key is not hardware-bound is at most at trust medium.
func TestSimulatorAttestedKeyAndTrustCap(t *testing.T) {
	pols, err := policy.Parse("t.yaml", []byte(`
policies:
  - id: att
    allow:
      and:
        - device: {key: attested}
  - id: high
    allow:
      and:
        - device: {trust: {is: high}}
`))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := proxy.NewSimulator([]config.Route{{From: "https://att.localhost", To: "http://127.0.0.1:1", Policy: "att"},
		{From: "https://high.localhost", To: "http://127.0.0.1:1", Policy: "high"}}, pols)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		route, key string
		want       policy.Outcome
		says       string
	}{
		{"https://att.localhost/", "attested", policy.Allow, ""},
		{"https://att.localhost/", "hardware", policy.Deny, "could not verify"},
		{"https://att.localhost/", "software", policy.Deny, "stored in software"},
		{"https://high.localhost/", "attested", policy.Allow, ""},
		{"https://high.localhost/", "hardware", policy.Allow, ""},
		{"https://high.localhost/", "software", policy.Deny, "caps the trust"},
	} {
		res, err := sim.Ask(tc.route, proxy.Query{Email: "a@example.com", DeviceTrust: "high", Ownership: "corporate", KeyProtection: tc.key}, now)
		if err != nil || res.Decision.Outcome != tc.want {
			t.Fatalf("%s key %q: %v %v, want %v", tc.route, tc.key, res, err, tc.want)
		}
		var msgs []string
		for _, r := range res.Decision.Reasons {
			msgs = append(msgs, r.Message)
		}
		if tc.says != "" && !strings.Contains(strings.Join(msgs, " "), tc.says) {
			t.Errorf("%s key %q: reasons %+v do not say %q", tc.route, tc.key, res.Decision.Reasons, tc.says)
		}
	}
}

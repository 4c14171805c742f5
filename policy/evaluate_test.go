package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// A and B hold for baseInput; X and Y do not.
const (
	critA = "{group: staff}"
	critB = "{device: {ownership: corporate}}"
	critX = "{group: admins}"
	critY = "{country: DE}"
)

func TestOperators(t *testing.T) {
	tests := []struct {
		block string
		want  bool
	}{
		{"and: [" + critA + ", " + critB + "]", true},
		{"and: [" + critA + ", " + critX + "]", false},
		{"or: [" + critX + ", " + critA + "]", true},
		{"or: [" + critX + ", " + critY + "]", false},
		// not: none of the items holds (PPL: ¬A ∧ ¬B).
		{"not: [" + critX + ", " + critY + "]", true},
		{"not: [" + critX + ", " + critA + "]", false},
		{"not: [" + critA + "]", false},
		// nor: not every item holds (PPL: ¬A ∨ ¬B).
		{"nor: [" + critA + ", " + critX + "]", true},
		{"nor: [" + critA + ", " + critB + "]", false},
		{"nor: [" + critX + ", " + critY + "]", true},
		// Several operators in one block must all hold.
		{"and: [" + critA + "]\n      not: [" + critX + "]", true},
		{"and: [" + critA + "]\n      or: [" + critX + ", " + critY + "]", false},
		// Nesting.
		{"and: [" + critA + ", {or: [" + critX + ", {and: [" + critB + ", {not: [" + critY + "]}]}]}]", true},
		{"or: [{and: [" + critA + ", " + critX + "]}, {nor: [" + critA + ", " + critB + "]}]", false},
		{"not: [{or: [" + critX + ", {not: [" + critA + "]}]}]", true},
		// A single criterion as the whole block.
		{critA[1 : len(critA)-1], true},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.block, "\n", " "), func(t *testing.T) {
			p := mustParse(t, "  - id: p\n    allow:\n      "+tt.block+"\n")["p"]
			in := baseInput()
			d := p.Evaluate(&in)
			if got := d.Outcome == Allow; got != tt.want {
				t.Fatalf("outcome %v, want allowed=%v\n%s", d.Outcome, tt.want, d.Explain())
			}
		})
	}
}

const wikiPolicies = `
  - id: wiki
    allow:
      or:
        - id: staff-managed
          and:
            - group: {has: staff}
            - device: {trust: {gte: medium}, check: disk_encrypted}
        - id: byod
          restrictions: [read_only, no_store]
          and:
            - group: {has: staff}
            - device: {ownership: byod}
        - id: contractors
          restrictions: [read_only]
          group: contractors
    deny:
      or:
        - id: blocked-net
          ip: {in: ["203.0.113.0/24"]}
        - id: embargo
          country: {in: [KP]}
          message: Access from this country is blocked by company policy.
          remediation: Contact security@example.com.
`

func TestDecisions(t *testing.T) {
	p := mustParse(t, wikiPolicies)["wiki"]
	tests := []struct {
		name     string
		in       func(*Input)
		outcome  Outcome
		rules    []string
		restrict Restrictions
		codes    []string
	}{
		{"staff on managed device", nil, Allow, []string{"staff-managed"}, 0, nil},
		{"deny wins over allow", func(in *Input) { in.IP = mustAddr("203.0.113.9") }, Deny, []string{"blocked-net"}, 0, []string{"ip"}},
		{"every matching deny rule is named", func(in *Input) { in.IP = mustAddr("203.0.113.9"); in.Country = "KP" },
			Deny, []string{"blocked-net", "embargo"}, 0, []string{"ip", "policy.deny"}},
		{"byod restricted", func(in *Input) { in.Device.Ownership = store.OwnershipBYOD; in.Device.Trust = store.TrustLow },
			AllowRestricted, []string{"byod"}, ReadOnly | NoStore, nil},
		{"least restrictive matching rule wins", func(in *Input) {
			in.Device.Ownership = store.OwnershipBYOD
			in.Device.Trust = store.TrustLow
			in.Groups = append(in.Groups, "contractors")
		}, AllowRestricted, []string{"contractors"}, ReadOnly, nil},
		{"unrestricted rule wins over restricted", func(in *Input) { in.Device.Ownership = store.OwnershipBYOD },
			Allow, []string{"staff-managed"}, 0, nil},
		{"nothing matched, closest rule explained", func(in *Input) { in.Device.Trust = store.TrustLow },
			Deny, nil, 0, []string{"policy.no_match", "device.trust"}},
		{"nothing matched, several failing conditions", func(in *Input) { in.Device.Trust = store.TrustLow; in.Device.PassingChecks = nil },
			Deny, nil, 0, []string{"policy.no_match", "device.trust", "device.check:disk_encrypted"}},
		{"not signed in", func(in *Input) { in.Authenticated = false }, Deny, nil, 0, []string{"user.unauthenticated"}},
		{"no request time fails closed", func(in *Input) { in.Now = time.Time{} }, Deny, nil, 0, []string{"policy.input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := with(tt.in)
			d := p.Evaluate(&in)
			if d.Outcome != tt.outcome || !slices.Equal(d.Rules, tt.rules) || d.Restrictions != tt.restrict || !slices.Equal(codes(d), tt.codes) {
				t.Fatalf("got %v rules=%v restrict=%v codes=%v; want %v %v %v %v\n%s",
					d.Outcome, d.Rules, d.Restrictions, codes(d), tt.outcome, tt.rules, tt.restrict, tt.codes, d.Explain())
			}
			if d.Policy != "wiki" || d.ReportOnly {
				t.Errorf("policy %q report-only %v", d.Policy, d.ReportOnly)
			}
			for _, r := range d.Reasons {
				if r.Message == "" || r.Remediation == "" {
					t.Errorf("reason %+v lacks text", r)
				}
			}
		})
	}
}

func codes(d Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.Code)
	}
	return out
}

func TestNoAllowRules(t *testing.T) {
	p := mustParse(t, "  - id: p\n    deny: {group: admins}\n")["p"]
	in := baseInput()
	d := p.Evaluate(&in)
	if d.Outcome != Deny || !slices.Equal(codes(d), []string{"policy.no_match"}) {
		t.Fatalf("%s", d.Explain())
	}
}

func TestStepUp(t *testing.T) {
	ps := mustParse(t, `
  - id: crit
    allow:
      and:
        - group: staff
        - mfa: {max_age: 10m}
  - id: req
    require: [mfa]
    mfa_max_age: 15m
    allow:
      - id: admins
        group: admins
        require: mfa
        mfa_max_age: 2m
      - id: staff
        group: staff
  - id: under-not
    allow:
      not: [{mfa: true}]
  - id: other-fails
    allow:
      and: [{group: admins}, {mfa: {max_age: 1m}}]
  - id: or
    allow:
      or:
        - and: [{group: admins}, {mfa: true}]
        - and: [{group: staff}, {mfa: {max_age: 1m}}]
`)
	stale := func(in *Input) { in.MFAAt = testNow.Add(-time.Hour) }
	never := func(in *Input) { in.MFAAt = time.Time{} }
	tests := []struct {
		policy  string
		in      func(*Input)
		outcome Outcome
		rules   []string
		msg     string
	}{
		{"crit", nil, Allow, []string{"crit/allow/0"}, ""},
		{"crit", stale, StepUp, []string{"crit/allow/0"}, "within the last 10m"},
		{"crit", never, StepUp, []string{"crit/allow/0"}, "within the last 10m"},
		{"crit", func(in *Input) { stale(in); in.Groups = nil }, Deny, nil, ""},
		{"req", nil, Allow, []string{"staff"}, ""},
		{"req", stale, StepUp, []string{"staff"}, "within the last 15m"},
		// The admins rule needs 2m on top of the policy's 15m: the strictest is asked for.
		{"req", func(in *Input) { stale(in); in.Groups = []string{"admins"} }, StepUp, []string{"admins"}, "within the last 2m"},
		{"under-not", nil, Deny, nil, ""},
		{"other-fails", stale, Deny, nil, ""},
		{"or", stale, StepUp, []string{"or/allow/1"}, "within the last 1m"},
		{"or", func(in *Input) { never(in); in.Groups = []string{"admins"} }, StepUp, []string{"or/allow/0"}, "multi-factor sign-in."},
	}
	for _, tt := range tests {
		in := with(tt.in)
		d := ps[tt.policy].Evaluate(&in)
		if d.Outcome != tt.outcome || !slices.Equal(d.Rules, tt.rules) {
			t.Errorf("%s: got %v %v, want %v %v\n%s", tt.policy, d.Outcome, d.Rules, tt.outcome, tt.rules, d.Explain())
			continue
		}
		if tt.outcome == StepUp {
			if len(d.Reasons) != 1 || d.Reasons[0].Code != "mfa" || !strings.Contains(d.Reasons[0].Message, tt.msg) ||
				d.Reasons[0].Remediation != "Sign in again with your security key." {
				t.Errorf("%s: step-up reasons %+v", tt.policy, d.Reasons)
			}
		}
	}
}

func TestReportOnly(t *testing.T) {
	ps := mustParse(t, `
  - id: new
    mode: report-only
    allow: {group: admins}
  - id: old
    mode: enforce
    allow: {group: staff}
`)
	in := baseInput()
	if d := ps["new"].Evaluate(&in); d.Outcome != Deny || !d.ReportOnly || !strings.Contains(d.Explain(), "report-only") {
		t.Errorf("report-only policy: %+v", d)
	}
	if d := ps["old"].Evaluate(&in); d.Outcome != Allow || d.ReportOnly {
		t.Errorf("enforced policy: %+v", d)
	}
}

func TestReasonsText(t *testing.T) {
	ps := mustParse(t, `
  - id: laptop
    allow:
      and:
        - device: {trust: {gte: medium}, check: disk_encrypted}
  - id: hwkey
    allow:
      and:
        - device: {key: hardware}
  - id: nobyod
    allow:
      and:
        - group: staff
        - not: [{device: {ownership: byod}}]
  - id: hours
    deny:
      not:
        - time: {weekdays: [mon-fri], from: "08:00", to: "19:00", tz: Europe/Paris}
    allow: {group: staff}
`)
	tests := []struct {
		policy, code, msg, fix string
		in                     func(*Input)
	}{
		{"laptop", "device.trust", "This device's trust level is low; this app needs medium or higher.", "Open the Portier agent on this device and fix the failing checks.",
			func(in *Input) { in.Device.Trust = store.TrustLow }},
		{"laptop", "device.check:disk_encrypted", "This device's disk is not encrypted.", "Open the Portier agent on this device and fix the failing checks.",
			func(in *Input) { in.Device.PassingChecks = nil }},
		{"hwkey", "device.key", "This app needs a device whose key is kept in hardware (TPM or secure enclave); this device's key is stored in software.",
			"Open this app from a company device whose Portier key is kept in hardware, or ask IT to enroll this device that way.", nil},
		{"hwkey", "device.key", "This device is not enrolled with Portier, so it holds no device key.",
			"Enroll this device with Portier from the self-service portal, or use an enrolled device.", func(in *Input) { in.Device = Device{} }},
		{"nobyod", "device.ownership", "This app is not available on personal devices.", "This app is not available on this kind of device; open it from a company-managed device.",
			func(in *Input) { in.Device.Ownership = store.OwnershipBYOD }},
		{"hours", "time", "This app is only available Mon-Fri 08:00-19:00 (Europe/Paris); it is now Sat 10:30.", "Try again during the hours this app is available.",
			func(in *Input) { in.Now = in.Now.AddDate(0, 0, 3) }},
	}
	for _, tt := range tests {
		in := with(tt.in)
		d := ps[tt.policy].Evaluate(&in)
		var found bool
		for _, r := range d.Reasons {
			if r.Code == tt.code {
				found = true
				if r.Message != tt.msg || r.Remediation != tt.fix {
					t.Errorf("%s %s:\n got %q / %q\nwant %q / %q", tt.policy, tt.code, r.Message, r.Remediation, tt.msg, tt.fix)
				}
			}
		}
		if !found || d.Outcome != Deny {
			t.Errorf("%s: no %s reason in\n%s", tt.policy, tt.code, d.Explain())
		}
	}
}

func TestDecisionJSONAndExplain(t *testing.T) {
	p := mustParse(t, wikiPolicies)["wiki"]
	in := with(func(in *Input) { in.Country = "KP" })
	d := p.Evaluate(&in)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"outcome":"deny","policy":"wiki","rules":["embargo"],"reasons":[{"code":"policy.deny","message":"Access from this country is blocked by company policy.","remediation":"Contact security@example.com.","rule":"embargo"}],"restrictions":[],"report_only":false}`
	if string(b) != want {
		t.Errorf("json:\n got %s\nwant %s", b, want)
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil || back.Outcome != Deny || back.Rules[0] != "embargo" {
		t.Errorf("round trip: %+v %v", back, err)
	}
	ex := d.Explain()
	for _, s := range []string{"deny (policy wiki)", "rules: embargo", "[policy.deny] Access from this country", "what to do: Contact security@example.com."} {
		if !strings.Contains(ex, s) {
			t.Errorf("Explain lacks %q:\n%s", s, ex)
		}
	}

	in = with(func(in *Input) { in.Device.Ownership = store.OwnershipBYOD; in.Device.Trust = store.TrustLow })
	d = p.Evaluate(&in)
	b, _ = json.Marshal(d)
	if !strings.Contains(string(b), `"outcome":"allow-restricted"`) || !strings.Contains(string(b), `"restrictions":["read_only","no_store"]`) ||
		!strings.Contains(string(b), `"reasons":[]`) {
		t.Errorf("json: %s", b)
	}
	if ex := d.Explain(); !strings.Contains(ex, "restrictions: read_only, no_store") {
		t.Errorf("Explain:\n%s", ex)
	}
}

func TestRestrictions(t *testing.T) {
	r := ReadOnly | BlockUploads
	if !r.Has(ReadOnly) || r.Has(NoStore) || r.Count() != 2 || r.String() != "read_only,block_uploads" {
		t.Errorf("bits: %v", r)
	}
	for m, ok := range map[string]bool{"GET": true, "HEAD": true, "OPTIONS": true, "POST": false, "DELETE": false} {
		if r.AllowsMethod(m) != ok || !Restrictions(0).AllowsMethod(m) {
			t.Errorf("AllowsMethod(%s)", m)
		}
	}
	if _, err := ParseRestriction("nope"); err == nil {
		t.Error("ParseRestriction accepted nope")
	}
	for _, o := range []Outcome{Deny, Allow, StepUp, AllowRestricted} {
		var back Outcome
		b, _ := o.MarshalText()
		if back.UnmarshalText(b) != nil || back != o {
			t.Errorf("outcome %v round trip", o)
		}
	}
	if !Allow.Allowed() || !AllowRestricted.Allowed() || StepUp.Allowed() || Deny.Allowed() {
		t.Error("Allowed")
	}
}

package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSessionMaxAge checks that a rule with session_max_age matches only
// while the sign-in is younger than the limit, that the policy-level value
// applies to every allow rule (the shorter winning), and that the deny says
// the sign-in is too old with "sign in again" as the remediation.
func TestSessionMaxAge(t *testing.T) {
	ps := mustParse(t, `
  - id: byod
    allow:
      - id: managed
        device: {ownership: corporate}
      - id: personal
        device: {ownership: byod}
        session_max_age: 8h
  - id: whole
    session_max_age: 24h
    allow:
      - id: staff
        group: staff
      - id: admins
        group: admins
        session_max_age: 1h
`)
	ago := func(d time.Duration, f func(*Input)) func(*Input) {
		return func(in *Input) {
			in.SignedInAt = testNow.Add(-d)
			if f != nil {
				f(in)
			}
		}
	}
	byod := func(in *Input) { in.Device.Ownership = "byod" }
	admin := func(in *Input) { in.Groups = []string{"admins"} }
	tests := []struct {
		name, policy string
		in           func(*Input)
		outcome      Outcome
		rules        []string
		tooOld       string // the limit the deny names; "" if not denied for age
	}{
		{"corporate, old sign-in", "byod", ago(30*time.Hour, nil), Allow, []string{"managed"}, ""},
		{"byod, 7h", "byod", ago(7*time.Hour, byod), Allow, []string{"personal"}, ""},
		{"byod, just under 8h", "byod", ago(8*time.Hour-time.Second, byod), Allow, []string{"personal"}, ""},
		{"byod, exactly 8h", "byod", ago(8*time.Hour, byod), Deny, nil, "8h"},
		{"byod, 9h", "byod", ago(9*time.Hour, byod), Deny, nil, "8h"},
		{"byod, sign-in time unknown", "byod", byod, Deny, nil, "8h"},
		{"policy level, 23h", "whole", ago(23*time.Hour, nil), Allow, []string{"staff"}, ""},
		{"policy level, 25h", "whole", ago(25*time.Hour, nil), Deny, nil, "24h"},
		{"rule shorter than policy, 2h", "whole", ago(2*time.Hour, admin), Deny, nil, "1h"},
		{"rule shorter than policy, 30m", "whole", ago(30*time.Minute, admin), Allow, []string{"admins"}, ""},
	}
	for _, tt := range tests {
		in := with(tt.in)
		d := ps[tt.policy].Evaluate(&in)
		if d.Outcome != tt.outcome || !slices.Equal(d.Rules, tt.rules) {
			t.Errorf("%s: got %v %v, want %v %v\n%s", tt.name, d.Outcome, d.Rules, tt.outcome, tt.rules, d.Explain())
			continue
		}
		if tt.tooOld == "" {
			continue
		}
		var found bool
		for _, r := range d.Reasons {
			if r.Code == "session.max_age" && strings.Contains(r.Message, "within the last "+tt.tooOld) &&
				r.Remediation == "Sign in again." {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no sign-in-too-old reason naming %s:\n%s", tt.name, tt.tooOld, d.Explain())
		}
	}
}

// TestSessionMaxAgeNoStepUp checks that a stale multi-factor sign-in on a
// rule whose sign-in is also too old is not a step-up: the MFA ceremony
// would not renew the sign-in, so the user is told to sign in again.
func TestSessionMaxAgeNoStepUp(t *testing.T) {
	ps := mustParse(t, `
  - id: p
    allow:
      - group: staff
        require: [mfa]
        mfa_max_age: 10m
        session_max_age: 8h
`)
	in := with(func(in *Input) { in.MFAAt = testNow.Add(-time.Hour); in.SignedInAt = testNow.Add(-9 * time.Hour) })
	d := ps["p"].Evaluate(&in)
	if d.Outcome != Deny {
		t.Fatalf("outcome %v, want deny\n%s", d.Outcome, d.Explain())
	}
	in.SignedInAt = testNow.Add(-time.Hour)
	if d := ps["p"].Evaluate(&in); d.Outcome != StepUp {
		t.Fatalf("young sign-in, stale MFA: outcome %v, want step-up\n%s", d.Outcome, d.Explain())
	}
}

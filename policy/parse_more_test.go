package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// parseErr parses a policies list and returns its errors as "line:col: msg".
func parseErr(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("t.yaml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want ErrorList", err)
	}
	var out []string
	for _, e := range list {
		out = append(out, strings.TrimPrefix(e.Error(), "t.yaml:"))
	}
	return out
}

func TestParseErrorsInline(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"yaml syntax", "policies:\n  - id: a\n    allow: {group: staff\n", []string{"3: did not find expected ',' or '}'"}},
		{"yaml tab", "policies:\n\t- id: a\n", []string{"2: found character that cannot start any token"}},
		{"not a mapping", "- a\n- b\n", []string{"1:1: the configuration must be a mapping of keys (such as policies:)"}},
		{"policies not a list", "policies: {id: a}\n", []string{"1:11: policies must be a list, not a mapping"}},
		{"duplicate key", "policies:\n  - id: a\n    id: b\n    allow: {group: x}\n", []string{`3:5: duplicate key "id" in policy`}},
		{"empty allow", "policies:\n  - id: a\n    allow:\n", []string{"3:11: allow rule must be a mapping, not empty"}},
		{"empty or", "policies:\n  - id: a\n    allow: {or: []}\n", []string{"3:12: allow must hold at least one rule"}},
		{"operator not a list", "policies:\n  - id: a\n    allow: {and: {group: x}}\n", []string{"3:18: and must be a list of conditions, not a mapping"}},
		{"criterion with two operators", "policies:\n  - id: a\n    allow: {email: {is: a@b.c, in: [c@d.e]}}\n", []string{"3:32: email takes one operator; found is and in (combine criteria with and/or)"}},
		{"trust shorthand refused", "policies:\n  - id: a\n    allow: {device: {trust: high}}\n", []string{`3:29: trust must be a mapping of operators (gte, lte, is), not "high"`}},
		{"mfa false", "policies:\n  - id: a\n    allow: {mfa: false}\n", []string{"3:18: mfa: false is not a condition"}},
		{"equal from to", "policies:\n  - id: a\n    allow: {time: {from: '08:00', to: '08:00'}}\n", []string{"3:35: time from and to are equal"}},
		{"Local tz", "policies:\n  - id: a\n    allow: {time: {weekdays: [mon], tz: Local}}\n", []string{`3:41: bad time zone "Local"`}},
		{"empty time", "policies:\n  - id: a\n    allow: {time: {tz: UTC}}\n", []string{"3:19: time needs weekdays, or from and to"}},
		{"remediation alone", "policies:\n  - id: a\n    deny:\n      remediation: x\n      group: y\n", []string{"4:7: remediation needs a message beside it"}},
		{"message on allow", "policies:\n  - id: a\n    allow: {message: hi, group: y}\n", []string{`3:13: "message" is not allowed on a allow rule`}},
		{"unknown require", "policies:\n  - id: a\n    require: [password]\n    allow: {group: y}\n", []string{`3:15: unknown requirement "password" (want mfa)`}},
		{"domain with @", "policies:\n  - id: a\n    allow: {domain: '@x.com'}\n", []string{`3:21: domain "@x.com" must be a bare domain`}},
		{"email without @", "policies:\n  - id: a\n    allow: {email: {in: [alice]}}\n", []string{`3:26: "alice" is not an email address`}},
		{"bad method", "policies:\n  - id: a\n    allow: {method: 'GET POST'}\n", []string{`3:21: bad HTTP method "GET POST"`}},
		{"rule id chars", "policies:\n  - id: a\n    allow: {id: 'my rule', group: y}\n", []string{`3:17: rule id "my rule" may only hold`}},
		{"no condition", "policies:\n  - id: a\n    allow: {id: r}\n", []string{"3:12: allow rule needs a condition: and, or, not, nor or a criterion"}},
		{"string expected", "policies:\n  - id: a\n    allow: {group: {has: [x, y]}}\n", []string{"3:26: group has must be a string, not a list"}},
		{"shadows without report-only", "policies:\n  - id: a\n    shadows: b\n    allow: {group: x}\n  - id: b\n    allow: {group: x}\n",
			[]string{"3:14: shadows needs mode: report-only"}},
		{"shadows unknown", "policies:\n  - id: a\n    mode: report-only\n    shadows: nope\n    allow: {group: x}\n",
			[]string{`4:14: policy "a" shadows "nope", which is not defined`}},
		{"shadows itself", "policies:\n  - id: a\n    mode: report-only\n    shadows: a\n    allow: {group: x}\n",
			[]string{`4:14: policy "a" cannot shadow itself`}},
		{"shadows report-only", "policies:\n  - id: a\n    mode: report-only\n    shadows: b\n    allow: {group: x}\n  - id: b\n    mode: report-only\n    allow: {group: x}\n",
			[]string{`4:14: policy "a" shadows "b", which is report-only too`}},
		{"too many aliases", "policies:\n  - id: a\n    allow: {and: &l [{group: x}]}\n  - id: b\n    allow: {and: [" + strings.Repeat("{and: *l}, ", 101) + "]}\n",
			[]string{"5:1125: too many YAML aliases"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, tt.src)
			if len(got) != len(tt.want) {
				t.Fatalf("errors %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %q, want prefix %q", got[i], tt.want[i])
				}
			}
		})
	}
}

func TestNestingLimit(t *testing.T) {
	deep := strings.Repeat("{not: [", 40) + "{group: x}" + strings.Repeat("]}", 40)
	got := parseErr(t, "policies:\n  - id: a\n    allow: "+deep+"\n")
	if len(got) != 1 || !strings.Contains(got[0], "nested too deeply") {
		t.Fatalf("errors %q", got)
	}
	ok := strings.Repeat("{not: [", 30) + "{group: staff}" + strings.Repeat("]}", 30)
	p := mustParse(t, "  - id: a\n    allow: "+ok+"\n")["a"]
	in := baseInput()
	if d := p.Evaluate(&in); d.Outcome != Allow { // an even number of nots
		t.Fatalf("%s", d.Explain())
	}
}

func TestAliasesShareLists(t *testing.T) {
	ps, err := Parse("t.yaml", []byte(`
office: &office ["10.0.0.0/8", "192.168.0.0/16"]
policies:
  - id: a
    allow: {ip: {in: *office}}
  - id: b
    deny: {ip: {not_in: *office}}
    allow: {group: staff}
`))
	if err != nil {
		t.Fatal(err)
	}
	in := baseInput()
	for _, p := range ps {
		if d := p.Evaluate(&in); d.Outcome != Allow {
			t.Errorf("%s: %s", p.ID, d.Explain())
		}
	}
}

func TestRuleForms(t *testing.T) {
	ps := mustParse(t, `
  - id: block
    allow: {and: [{group: staff}]}
  - id: list
    allow:
      - {group: admins}
      - {group: staff, id: via-staff}
  - id: split
    allow:
      or:
        - group: admins
        - group: staff
  - id: or-with-id
    allow:
      id: whole
      or: [{group: admins}, {group: staff}]
  - id: multi-op
    allow:
      and: [{group: staff}]
      not: [{country: KP}]
  - id: restricted
    restrictions: [no_store]
    allow:
      - {group: staff, restrictions: [read_only]}
`)
	tests := map[string][]string{
		"block":      {"block/allow/0"},
		"list":       {"via-staff"},
		"split":      {"split/allow/1"},
		"or-with-id": {"whole"},
		"multi-op":   {"multi-op/allow/0"},
		"restricted": {"restricted/allow/0"},
	}
	in := baseInput()
	for id, rules := range tests {
		d := ps[id].Evaluate(&in)
		if !d.Outcome.Allowed() || !slices.Equal(d.Rules, rules) {
			t.Errorf("%s: %v %v, want rules %v", id, d.Outcome, d.Rules, rules)
		}
	}
	if d := ps["restricted"].Evaluate(&in); d.Restrictions != ReadOnly|NoStore || d.Outcome != AllowRestricted {
		t.Errorf("policy and rule restrictions not combined: %v", d.Restrictions)
	}
}

func TestShadows(t *testing.T) {
	ps := mustParse(t, `
  - id: new
    mode: report-only
    shadows: old
    allow: {group: admins}
  - id: old
    allow: {group: staff}
`)
	if ps["new"].Shadows != "old" || ps["old"].Shadows != "" {
		t.Fatalf("shadows = %q, %q", ps["new"].Shadows, ps["old"].Shadows)
	}
}

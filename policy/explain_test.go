package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestExplainNested checks which conditions are reported through nested
// operators, for allow rules (what fails) and deny rules (what matched).
func TestExplainNested(t *testing.T) {
	tests := []struct {
		name, policy string
		in           func(*Input)
		codes        []string
	}{
		{"and reports only the failing items",
			"allow: {and: [{group: staff}, {country: DE}, {device: {trust: {gte: high}}}]}", nil,
			[]string{"policy.no_match", "country", "device.trust"}},
		{"or reports every alternative",
			"allow: {and: [{or: [{group: admins}, {ip: ['192.168.0.0/16']}]}]}", nil,
			[]string{"policy.no_match", "group", "ip"}},
		{"not reports the items that hold",
			"allow: {not: [{group: staff}, {country: DE}, {device: {ownership: corporate}}]}", nil,
			[]string{"policy.no_match", "group", "device.ownership"}},
		{"nor reports all items, which all hold",
			"allow: {nor: [{group: staff}, {country: FR}]}", nil,
			[]string{"policy.no_match", "group", "country"}},
		{"deny and reports every item",
			"deny: {and: [{group: staff}, {method: GET}]}\n    allow: {group: staff}", nil,
			[]string{"group", "method"}},
		{"deny or reports the items that hold",
			"deny: {and: [{or: [{country: FR}, {country: DE}, {path: {prefix: /wiki}}]}]}\n    allow: {group: staff}", nil,
			[]string{"country", "path"}},
		{"deny not reports every item",
			"deny: {not: [{device: {compliant: true}}, {device: {check: firewall}}]}\n    allow: {group: staff}",
			func(in *Input) { in.Device.Compliant = false; in.Device.PassingChecks = nil },
			[]string{"device.compliant", "device.check:firewall"}},
		{"deny nor reports the items that fail",
			"deny: {nor: [{device: {compliant: true}}, {device: {check: firewall}}]}\n    allow: {group: staff}",
			func(in *Input) { in.Device.PassingChecks = nil },
			[]string{"device.check:firewall"}},
		{"double negation",
			"allow: {not: [{not: [{device: {managed: true}}]}]}", func(in *Input) { in.Device.Managed = false },
			[]string{"policy.no_match", "device.managed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "  - id: p\n    "+tt.policy+"\n")["p"]
			in := with(tt.in)
			d := p.Evaluate(&in)
			if d.Outcome != Deny || !slices.Equal(codes(d), tt.codes) {
				t.Fatalf("got %v %v, want deny %v\n%s", d.Outcome, codes(d), tt.codes, d.Explain())
			}
		})
	}
}

// TestClosestRule checks which allow rule the deny page explains when none
// matched: the user's own rule rather than one meant for someone else, and
// full access rather than restricted access.
func TestClosestRule(t *testing.T) {
	p := mustParse(t, `
  - id: p
    allow:
      - id: admins
        and: [{group: admins}]
      - id: byod
        restrictions: [read_only]
        and: [{group: staff}, {device: {ownership: byod}}]
      - id: staff
        and: [{group: staff}, {device: {trust: {gte: high}, check: disk_encrypted}}]
`)["p"]
	in := with(func(in *Input) { in.Device.PassingChecks = nil })
	d := p.Evaluate(&in)
	var rules []string
	for _, r := range d.Reasons[1:] {
		rules = append(rules, r.Rule)
	}
	if want := []string{"staff", "staff"}; !slices.Equal(rules, want) || !slices.Equal(codes(d), []string{"policy.no_match", "device.trust", "device.check:disk_encrypted"}) {
		t.Fatalf("explained %v\n%s", rules, d.Explain())
	}
}

// TestReasonMessages renders every criterion's reason both ways, so each
// has a message and a remediation and none shows Go formatting slips.
func TestReasonMessages(t *testing.T) {
	crits := []string{
		"{email: {is: bob@example.com}}", "{email: {ends_with: '@x.org'}}", "{domain: x.org}", "{group: admins}",
		"{group: {any: [a, b]}}", "{group: {all: [staff, b]}}", "{idp: other}", "{mfa: true}", "{mfa: {max_age: 1m}}",
		"{device: {trust: {gte: high}}}", "{device: {trust: {lte: low}}}", "{device: {trust: {gte: low, lte: low}}}",
		"{device: {trust: {is: high}}}", "{device: {ownership: byod}}", "{device: {platform: windows}}",
		"{device: {compliant: false}}", "{device: {check: usb_blocked}}", "{device: {check: firewall}}", "{device: {id: dev-9}}",
		"{device: {seen_within: 1m}}", "{device: {managed: false}}", "{ip: ['192.168.0.0/16']}", "{ip: {not_in: ['10.0.0.0/8']}}",
		"{country: DE}", "{country: {not_in: [FR]}}", "{time: {weekdays: [sat]}}", "{method: POST}", "{path: {is: /x}}",
		"{path: {prefix: /x}}",
	}
	for _, c := range crits {
		for _, block := range []string{"allow: " + c, "deny: {not: [" + c + "]}\n    allow: {group: staff}"} {
			p := mustParse(t, "  - id: p\n    "+block+"\n")["p"]
			for _, in := range []Input{baseInput(), with(func(in *Input) {
				in.Device = Device{}
				in.Email, in.IdP, in.Groups, in.MFAAt = "x@y.z", "", nil, testNow.AddDate(0, 0, -1)
				in.IP = mustAddr("192.0.2.1")
				in.Country = ""
				in.Device.Ownership = store.OwnershipBYOD
			})} {
				d := p.Evaluate(&in)
				if d.Outcome.Allowed() {
					continue
				}
				for _, r := range d.Reasons {
					if r.Message == "" || r.Remediation == "" || strings.Contains(r.Message, "%!") || !strings.HasSuffix(r.Message, ".") {
						t.Errorf("%s: bad reason %+v", block, r)
					}
				}
			}
		}
	}
}

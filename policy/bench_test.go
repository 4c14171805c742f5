package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// realisticPolicy is a route policy as a security team would write it.
const realisticPolicy = `
  - id: wiki
    allow:
      or:
        - id: staff-managed
          and:
            - group: {any: [staff, eng, support]}
            - device:
                trust: {gte: medium}
                ownership: {in: [corporate, cope]}
                check: [disk_encrypted, firewall]
                seen_within: 24h
            - mfa: {max_age: 12h}
        - id: byod
          restrictions: [read_only, block_downloads, no_store]
          and:
            - group: staff
            - device: {ownership: byod, managed: true}
        - id: contractors
          restrictions: [read_only]
          and:
            - group: contractors
            - email: {ends_with: "@partner.example"}
            - time: {weekdays: [mon-fri], from: "07:00", to: "20:00", tz: Europe/Paris}
    deny:
      or:
        - id: blocked-networks
          ip: {in: [%s]}
        - id: embargo
          country: {in: [KP, IR, SY, CU]}
        - id: admin-writes
          and:
            - path: {prefix: /admin/}
            - method: {in: [POST, PUT, DELETE, PATCH]}
            - not: [{group: wiki-admins}]
`

// benchPolicies returns 1,000 rules: the realistic policy, 24 more route
// policies of 20 rules each, and one large policy of 514 rules.
func benchPolicies(b *testing.B) (map[string]*Policy, int) {
	var cidrs []string
	for i := range 20 {
		cidrs = append(cidrs, fmt.Sprintf(`"198.51.%d.0/24"`, i))
	}
	var src strings.Builder
	fmt.Fprintf(&src, realisticPolicy, strings.Join(cidrs, ", "))
	for p := range 24 {
		fmt.Fprintf(&src, "  - id: app-%d\n    allow:\n", p)
		for r := range 20 {
			fmt.Fprintf(&src, "      - and: [{group: app-%d-team-%d}, {device: {trust: {gte: low}}}, {ip: {not_in: [\"198.51.100.0/24\"]}}]\n", p, r)
		}
	}
	src.WriteString("  - id: large\n    deny:\n      - {country: {in: [KP]}}\n      - {ip: {in: [\"203.0.113.0/24\"]}}\n    allow:\n")
	for r := range 512 {
		fmt.Fprintf(&src, "      - and: [{group: team-%d}, {device: {trust: {gte: medium}, compliant: true}}, {time: {weekdays: [mon-fri], tz: America/New_York}}]\n", r)
	}
	ps := mustParse(b, src.String())
	total := 0
	for _, p := range ps {
		total += len(p.allow) + len(p.deny)
	}
	return ps, total
}

// session and device stand for what the proxy holds in memory.
type benchSession struct {
	userID, email, idp string
	groups             []string
	mfaAt              time.Time
}

func BenchmarkEvaluate(b *testing.B) {
	ps, total := benchPolicies(b)
	if total != 1000 {
		b.Fatalf("%d rules, want 1000", total)
	}
	sess := &benchSession{
		userID: "u-42", email: "alice@example.com", idp: "corp",
		groups: []string{"everyone", "eng", "staff", "team-511", "oncall", "berlin", "gitlab-users", "vpn-legacy"},
		mfaAt:  testNow.Add(-2 * time.Hour),
	}
	dev := &Device{
		ID: "dev-8c1f", Trust: store.TrustHigh, Ownership: store.OwnershipCorporate, Platform: "macos",
		Compliant: true, Managed: true, PassingChecks: []string{"disk_encrypted", "firewall", "screen_lock", "os_up_to_date"},
		LastSeen: testNow.Add(-10 * time.Minute),
	}
	ip := netip.MustParseAddr("10.20.30.40")
	cases := []struct {
		name    string
		policy  string
		mutate  func(*Input)
		outcome Outcome
	}{
		{"realistic/allow", "wiki", nil, Allow},
		{"realistic/allow-restricted", "wiki", func(in *Input) { in.Device.Ownership = store.OwnershipBYOD }, AllowRestricted},
		{"realistic/step-up", "wiki", func(in *Input) { in.MFAAt = testNow.Add(-13 * time.Hour) }, StepUp},
		{"realistic/deny-rule", "wiki", func(in *Input) { in.Country = "KP" }, Deny},
		{"realistic/deny-no-match", "wiki", func(in *Input) { in.Device.Trust = store.TrustLow }, Deny},
		{"app-20-rules/deny-no-match", "app-3", nil, Deny},
		{"large-514-rules/allow-last", "large", nil, Allow},
		{"large-514-rules/deny-no-match", "large", func(in *Input) { in.Device.Compliant = false }, Deny},
	}
	for _, c := range cases {
		p := ps[c.policy]
		// What the proxy resolved for this request: session, device record, GeoIP.
		req := Input{
			Authenticated: true, UserID: sess.userID, Email: sess.email, Groups: sess.groups, IdP: sess.idp,
			MFAAt: sess.mfaAt, Device: *dev, IP: ip, Country: "DE", Now: testNow,
			Method: "GET", Path: "/wiki/Onboarding",
		}
		if c.mutate != nil {
			c.mutate(&req)
		}
		b.Run(c.name, func(b *testing.B) {
			var d Decision
			b.ReportAllocs()
			for b.Loop() {
				// Fill the input by assignment, as the proxy does per request.
				in := Input{
					Authenticated: req.Authenticated, UserID: req.UserID, Email: req.Email, Groups: req.Groups,
					IdP: req.IdP, MFAAt: req.MFAAt, Device: req.Device, IP: req.IP, Country: req.Country,
					Now: req.Now, Method: req.Method, Path: req.Path,
				}
				d = p.Evaluate(&in)
			}
			if d.Outcome != c.outcome {
				b.Fatalf("outcome %v, want %v\n%s", d.Outcome, c.outcome, d.Explain())
			}
		})
	}
}

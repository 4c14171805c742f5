package main

import (
	"fmt"
	"strings"
)

// Shape of Portier's benchmark configuration.
const (
	routeCount     = 10
	rulesPerPolicy = 20 // 4 deny + 16 allow: 200 rules over the 10 routes
	teamRules      = 12
)

// portierConfig is the YAML configuration Portier runs with: routeCount
// routes app0.localhost … app9.localhost to the same upstream, each with
// its own policy.
func portierConfig(dataDir, upstream string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "external_url: https://localhost\nlisten: 127.0.0.1:0\ndata_dir: %q\nmetrics_listen: \"off\"\ndemo: false\nroutes:\n", dataDir)
	for i := range routeCount {
		fmt.Fprintf(&b, "  - from: https://%s\n    to: http://%s\n    policy: app%d\n", routeHost(i), upstream, i)
	}
	b.WriteString("policies:\n")
	for i := range routeCount {
		writePolicy(&b, i)
	}
	return b.String()
}

func routeHost(i int) string { return fmt.Sprintf("app%d.localhost", i) }

// writePolicy writes route i's policy as a security team would: network,
// country, admin-write and off-hours deny rules; per-team allow rules
// (indexed by group, so they cost nothing for other users); contractors,
// BYOD and readers with restrictions or method/path conditions; and last
// the rule the benchmark's user matches, staff on a managed, compliant,
// recently seen device on the internal network.
func writePolicy(b *strings.Builder, i int) {
	var blocked []string
	for k := range 16 {
		blocked = append(blocked, fmt.Sprintf("%q", fmt.Sprintf("198.18.%d.0/24", 16*i+k)))
	}
	blocked = append(blocked, `"203.0.113.0/24"`)
	fmt.Fprintf(b, `  - id: app%[1]d
    deny:
      - id: app%[1]d-blocked-networks
        ip: {in: [%[2]s]}
      - id: app%[1]d-embargo
        country: {in: [CU, IR, KP, SY]}
        message: Access from this country is blocked by company policy.
      - id: app%[1]d-admin-writes
        and:
          - path: {prefix: [/admin/]}
          - method: {in: [POST, PUT, PATCH, DELETE]}
          - not: [{group: app%[1]d-admins}]
      - id: app%[1]d-interns-off-hours
        and:
          - group: interns
          - not:
              - time: {weekdays: [mon-fri], from: "08:00", to: "18:00", tz: Europe/Paris}
    allow:
`, i, strings.Join(blocked, ", "))
	for r := range teamRules {
		fmt.Fprintf(b, `      - id: app%[1]d-team-%[2]d
        and:
          - group: app%[1]d-team-%[2]d
          - device: {trust: {gte: low}}
          - ip: {not_in: ["100.64.0.0/10"]}
`, i, r)
	}
	mfa := ""
	if i%2 == 0 {
		mfa = "\n          - mfa: {max_age: 12h}"
	}
	fmt.Fprintf(b, `      - id: app%[1]d-contractors
        restrictions: [read_only]
        and:
          - group: contractors
          - email: {ends_with: "@partner.example"}
          - time: {weekdays: [mon-fri], from: "07:00", to: "20:00", tz: Europe/Berlin}
      - id: app%[1]d-byod
        restrictions: [read_only, block_downloads, no_store]
        and:
          - group: staff
          - device: {ownership: byod, managed: true, seen_within: 7d}
      - id: app%[1]d-readers
        and:
          - group: app%[1]d-readers
          - method: {in: [GET, HEAD]}
          - path: {prefix: [/docs/, /static/]}
      - id: app%[1]d-staff-managed
        and:
          - group: {any: [staff, eng]}
          - device:
              trust: {gte: medium}
              ownership: {in: [corporate, cope]}
              compliant: true
              check: [disk_encrypted, firewall_on]
              seen_within: 24h
          - ip: {in: ["127.0.0.0/8", "10.0.0.0/8", "::1/128"]}%[2]s
`, i, mfa)
}

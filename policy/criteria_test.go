package policy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestCriteria checks every criterion and operator on its own: the policy
// allows exactly when the criterion holds.
func TestCriteria(t *testing.T) {
	tests := []struct {
		name string
		crit string // YAML flow mapping for one criterion
		in   func(*Input)
		want bool
	}{
		{"email is", `{email: {is: alice@example.com}}`, nil, true},
		{"email is shorthand, case-insensitive", `{email: ALICE@example.COM}`, nil, true},
		{"email is other", `{email: {is: bob@example.com}}`, nil, false},
		{"email in", `{email: {in: [bob@example.com, alice@example.com]}}`, nil, true},
		{"email in large set", `{email: {in: [a1@x.y, a2@x.y, a3@x.y, a4@x.y, a5@x.y, a6@x.y, a7@x.y, a8@x.y, a9@x.y, a10@x.y, a11@x.y, a12@x.y, Alice@example.com]}}`, nil, true},
		{"email in large set, miss", `{email: {in: [a1@x.y, a2@x.y, a3@x.y, a4@x.y, a5@x.y, a6@x.y, a7@x.y, a8@x.y, a9@x.y, a10@x.y, a11@x.y, a12@x.y, a13@x.y]}}`, nil, false},
		{"email ends_with @", `{email: {ends_with: "@example.com"}}`, nil, true},
		{"email ends_with subdomains", `{email: {ends_with: [".example.com"]}}`, nil, false},
		{"email ends_with subdomain hit", `{email: {ends_with: [".example.com"]}}`, func(in *Input) { in.Email = "a@eu.example.com" }, true},
		{"email ends_with look-alike", `{email: {ends_with: "@example.com"}}`, func(in *Input) { in.Email = "a@evilexample.com" }, false},
		{"email KELVIN SIGN look-alike", `{email: kim@example.com}`, func(in *Input) { in.Email = "\u212Aim@example.com" }, false},
		{"email KELVIN SIGN look-alike, large set", `{email: {in: [a1@x.y, a2@x.y, a3@x.y, a4@x.y, a5@x.y, a6@x.y, a7@x.y, a8@x.y, a9@x.y, a10@x.y, a11@x.y, a12@x.y, kim@example.com]}}`, func(in *Input) { in.Email = "\u212Aim@example.com" }, false},
		{"email long-s look-alike", `{email: {in: [sam@example.com]}}`, func(in *Input) { in.Email = "\u017Fam@example.com" }, false},
		{"domain KELVIN SIGN look-alike", `{domain: {in: [a1.y, a2.y, a3.y, a4.y, a5.y, a6.y, a7.y, a8.y, a9.y, a10.y, a11.y, a12.y, kk.example]}}`, func(in *Input) { in.Email = "a@\u212Ak.example" }, false},
		{"email empty", `{email: {in: [alice@example.com]}}`, func(in *Input) { in.Email = "" }, false},
		{"domain is", `{domain: {is: example.com}}`, nil, true},
		{"domain in", `{domain: {in: [example.org, EXAMPLE.com]}}`, nil, true},
		{"domain other", `{domain: example.org}`, nil, false},
		{"domain is the last @ part", `{domain: example.com}`, func(in *Input) { in.Email = `"x@example.com"@evil.org` }, false},
		{"group has", `{group: {has: staff}}`, nil, true},
		{"group has shorthand", `{group: eng}`, nil, true},
		{"group has is case-sensitive", `{group: Staff}`, nil, false},
		{"group any", `{group: {any: [admins, eng]}}`, nil, true},
		{"group any none", `{group: {any: [admins, finance]}}`, nil, false},
		{"group all", `{group: {all: [staff, eng]}}`, nil, true},
		{"group all missing one", `{group: {all: [staff, admins]}}`, nil, false},
		{"group no groups", `{group: staff}`, func(in *Input) { in.Groups = nil }, false},
		{"idp is", `{idp: corp}`, nil, true},
		{"idp in", `{idp: {in: [local, corp]}}`, nil, true},
		{"idp other", `{idp: {is: local}}`, nil, false},
		{"mfa true", `{mfa: true}`, nil, true},
		{"mfa true, never", `{mfa: true}`, func(in *Input) { in.MFAAt = time.Time{} }, false},
		{"mfa max_age fresh", `{mfa: {max_age: 10m}}`, nil, true},
		{"mfa max_age stale", `{mfa: {max_age: 1m}}`, nil, false},
		{"trust gte equal", `{device: {trust: {gte: medium}}}`, nil, true},
		{"trust gte below", `{device: {trust: {gte: high}}}`, nil, false},
		{"trust lte", `{device: {trust: {lte: medium}}}`, nil, true},
		{"trust lte above", `{device: {trust: {lte: low}}}`, nil, false},
		{"trust is", `{device: {trust: {is: medium}}}`, nil, true},
		{"trust is other", `{device: {trust: {is: high}}}`, nil, false},
		{"trust range", `{device: {trust: {gte: low, lte: medium}}}`, nil, true},
		{"trust unknown device", `{device: {trust: {gte: low}}}`, func(in *Input) { in.Device = Device{} }, false},
		{"trust gte untrusted holds for all", `{device: {trust: {gte: untrusted}}}`, func(in *Input) { in.Device = Device{} }, true},
		{"ownership is", `{device: {ownership: corporate}}`, nil, true},
		{"ownership in", `{device: {ownership: {in: [cope, corporate]}}}`, nil, true},
		{"ownership byod", `{device: {ownership: {is: corporate}}}`, func(in *Input) { in.Device.Ownership = store.OwnershipBYOD }, false},
		{"ownership empty is unmanaged", `{device: {ownership: unmanaged}}`, func(in *Input) { in.Device = Device{} }, true},
		{"platform is, case-insensitive", `{device: {platform: macos}}`, nil, true},
		{"platform in", `{device: {platform: {in: [Windows, linux]}}}`, nil, false},
		{"compliant true", `{device: {compliant: true}}`, nil, true},
		{"compliant true, not", `{device: {compliant: true}}`, func(in *Input) { in.Device.Compliant = false }, false},
		{"compliant false", `{device: {compliant: false}}`, func(in *Input) { in.Device.Compliant = false }, true},
		{"check passes", `{device: {check: disk_encrypted}}`, nil, true},
		{"check list all pass", `{device: {check: [disk_encrypted, firewall]}}`, nil, true},
		{"check list one fails", `{device: {check: [disk_encrypted, screen_lock]}}`, nil, false},
		{"device id is", `{device: {id: dev-1}}`, nil, true},
		{"device id in", `{device: {id: {in: [dev-9, dev-1]}}}`, nil, true},
		{"device id none", `{device: {id: {in: [dev-9]}}}`, func(in *Input) { in.Device.ID = "" }, false},
		{"seen_within", `{device: {seen_within: 2h}}`, nil, true},
		{"seen_within stale", `{device: {seen_within: 30m}}`, nil, false},
		{"seen_within days", `{device: {seen_within: 1d}}`, nil, true},
		{"seen_within never", `{device: {seen_within: 7d}}`, func(in *Input) { in.Device.LastSeen = time.Time{} }, false},
		{"managed", `{device: {managed: true}}`, nil, true},
		{"key hardware, software key", `{device: {key: hardware}}`, func(in *Input) { in.Device.Key = store.KeySoftware }, false},
		{"key hardware, key unknown", `{device: {key: hardware}}`, nil, false},
		{"key hardware, odd value is software", `{device: {key: hardware}}`, func(in *Input) { in.Device.Key = "Hardware" }, false},
		{"key hardware, hardware key", `{device: {key: {is: hardware}}}`, func(in *Input) { in.Device.Key = store.KeyHardware }, true},
		{"key hardware, unmanaged", `{device: {key: hardware}}`, func(in *Input) { in.Device = Device{Key: store.KeyHardware} }, false},
		{"key software", `{device: {key: software}}`, nil, true},
		{"key software, hardware key", `{device: {key: software}}`, func(in *Input) { in.Device.Key = store.KeyHardware }, false},
		{"key software, unmanaged", `{device: {key: software}}`, func(in *Input) { in.Device = Device{} }, false},
		{"managed false", `{device: {managed: false}}`, func(in *Input) { in.Device.Managed = false }, true},
		{"device keys all hold", `{device: {trust: {gte: low}, ownership: corporate, compliant: true}}`, nil, true},
		{"device keys one fails", `{device: {trust: {gte: low}, ownership: byod}}`, nil, false},
		{"ip in", `{ip: {in: ["10.0.0.0/8"]}}`, nil, true},
		{"ip bare list", `{ip: ["192.168.0.0/16", "10.1.2.3"]}`, nil, true},
		{"ip in miss", `{ip: {in: ["192.168.0.0/16"]}}`, nil, false},
		{"ip mapped v4", `{ip: {in: ["10.0.0.0/8"]}}`, func(in *Input) { in.IP = netip.MustParseAddr("::ffff:10.9.9.9") }, true},
		{"ip v6", `{ip: {in: ["2001:db8::/32"]}}`, func(in *Input) { in.IP = netip.MustParseAddr("2001:db8::1") }, true},
		{"ip not_in", `{ip: {not_in: ["203.0.113.0/24"]}}`, nil, true},
		{"ip not_in hit", `{ip: {not_in: ["10.1.0.0/16"]}}`, nil, false},
		{"ip in and not_in", `{ip: {in: ["10.0.0.0/8"], not_in: ["10.1.0.0/16"]}}`, nil, false},
		{"ip v4 /0", `{ip: ["0.0.0.0/0"]}`, nil, true},
		{"ip v4 /32", `{ip: ["10.1.2.3/32"]}`, nil, true},
		{"ip v4 /31 hit", `{ip: ["10.1.2.2/31"]}`, nil, true},
		{"ip v4 /31 miss", `{ip: ["10.1.2.4/31"]}`, nil, false},
		{"ip v4 unmasked cidr", `{ip: ["10.1.2.77/24"]}`, nil, true},
		{"ip v6 /0 is not v4", `{ip: ["::/0"]}`, nil, false},
		{"ip v4-mapped cidr", `{ip: ["::ffff:10.0.0.0/104"]}`, nil, true},
		{"ip v4 rule, v6 client", `{ip: ["0.0.0.0/0"]}`, func(in *Input) { in.IP = netip.MustParseAddr("2001:db8::1") }, false},
		{"ip invalid never in", `{ip: {in: ["0.0.0.0/0", "::/0"]}}`, func(in *Input) { in.IP = netip.Addr{} }, false},
		{"country is", `{country: FR}`, nil, true},
		{"country in, lower case", `{country: {in: [de, fr]}}`, nil, true},
		{"country in miss", `{country: {in: [DE]}}`, nil, false},
		{"country not_in", `{country: {not_in: [KP, IR]}}`, nil, true},
		{"country not_in hit", `{country: {not_in: [FR]}}`, nil, false},
		{"country unknown is ZZ", `{country: {in: [ZZ]}}`, func(in *Input) { in.Country = "" }, true},
		{"country unknown not_in ZZ", `{country: {not_in: [ZZ]}}`, func(in *Input) { in.Country = "" }, false},
		{"country garbage is ZZ", `{country: ZZ}`, func(in *Input) { in.Country = "F1" }, true},
		{"time weekdays", `{time: {weekdays: [wed]}}`, nil, true},
		{"time weekdays range", `{time: {weekdays: mon-fri, tz: Europe/Paris}}`, nil, true},
		{"time weekend", `{time: {weekdays: [sat, sunday]}}`, nil, false},
		{"time window utc", `{time: {from: "08:00", to: "09:00"}}`, nil, true},
		{"time window paris", `{time: {from: "10:00", to: "11:00", tz: Europe/Paris}}`, nil, true},
		{"time window paris miss", `{time: {from: "08:00", to: "09:00", tz: Europe/Paris}}`, nil, false},
		{"time to is exclusive", `{time: {from: "07:00", to: "08:30"}}`, nil, false},
		{"time from is inclusive", `{time: {from: "08:30", to: "08:31"}}`, nil, true},
		{"method is", `{method: GET}`, nil, true},
		{"method in", `{method: {in: [get, head]}}`, nil, true},
		{"method other", `{method: {is: POST}}`, nil, false},
		{"method lower-case input", `{method: {is: POST}}`, func(in *Input) { in.Method = "post" }, true},
		{"path is", `{path: {is: /wiki/page}}`, nil, true},
		{"path in", `{path: {in: [/a, /wiki/page]}}`, nil, true},
		{"path is other", `{path: {is: /wiki}}`, nil, false},
		{"path prefix", `{path: {prefix: /wiki/}}`, nil, true},
		{"path prefix list", `{path: {prefix: [/api/, /wiki]}}`, nil, true},
		{"path prefix miss", `{path: {prefix: /admin}}`, nil, false},
		{"path prefix dot-dot cleaned", `{path: {prefix: /public/}}`, func(in *Input) { in.Path = "/public/../admin" }, false},
		{"path double slash cleaned", `{path: {is: /admin}}`, func(in *Input) { in.Path = "//admin" }, true},
		{"path is case-sensitive", `{path: {is: /Wiki/page}}`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "  - id: p\n    allow: "+tt.crit+"\n")["p"]
			in := with(tt.in)
			d := p.Evaluate(&in)
			if got := d.Outcome == Allow; got != tt.want {
				t.Fatalf("outcome %v, want allowed=%v\n%s", d.Outcome, tt.want, d.Explain())
			}
			if !tt.want && len(d.Reasons) < 1 {
				t.Fatalf("no reasons for %v", d.Outcome)
			}
		})
	}
}

package config

import (
	"strings"
	"testing"
)

// TestACMEErrorsNameTheLine checks each rule of the acme section: the
// error names the file, the line of the bad value and the problem.
func TestACMEErrorsNameTheLine(t *testing.T) {
	const head = "external_url: https://portier.example.com\nacme:\n"
	for _, tc := range []struct{ name, acme, want string }{
		{"no directory", "  email: ops@example.com\n", "t.yaml:3: acme needs a directory_url"},
		{"plain http", "  directory_url: http://acme.example.com/dir\n  agree_terms: true\n", "t.yaml:3: acme.directory_url must be an https:// URL"},
		{"terms", "  directory_url: https://acme.example.com/dir\n", "t.yaml:3: acme.agree_terms must be true"},
		{"email", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  email: Ops <ops@example.com>\n", "t.yaml:5: acme.email must be a plain e-mail address"},
		{"challenge", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  challenge: dns-01\n", `t.yaml:5: acme.challenge must be tls-alpn-01 or http-01 (got "dns-01")`},
		{"http_listen without http-01", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  http_listen: \":80\"\n", "t.yaml:5: acme.http_listen is only used with challenge: http-01"},
		{"bad http_listen", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  challenge: http-01\n  http_listen: \"80\"\n", `t.yaml:6: acme.http_listen must be host:port`},
		{"wildcard host", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  hosts: [wiki.example.com, \"*.example.com\"]\n", `t.yaml:5: acme.hosts: "*.example.com" is not a host name`},
		{"IP host", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  hosts:\n    - 192.0.2.1\n", `t.yaml:6: acme.hosts: "192.0.2.1" is not a host name`},
		{"twice", "  directory_url: https://acme.example.com/dir\n  agree_terms: true\n  hosts:\n    - wiki.example.com\n    - Wiki.example.com\n", `t.yaml:7: acme.hosts: "Wiki.example.com" is listed twice`},
		{"unknown key", "  directory: https://acme.example.com/dir\n", `t.yaml:3: unknown key "directory"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(head+tc.acme))
			if err == nil {
				c.ApplyDefaults()
				err = c.Validate()
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
	t.Run("with tls files", func(t *testing.T) {
		c, err := Parse("t.yaml", []byte(head+"  directory_url: https://acme.example.com/dir\n  agree_terms: true\ntls:\n  cert_file: a.pem\n  key_file: a.key\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.ApplyDefaults()
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "acme and tls.cert_file exclude each other") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestACMEDefaults(t *testing.T) {
	for _, tc := range []struct{ acme, challenge, listen string }{
		{"", ChallengeTLSALPN, ""},
		{"  challenge: http-01\n", ChallengeHTTP, ":80"},
		{"  challenge: http-01\n  http_listen: 127.0.0.1:8080\n", ChallengeHTTP, "127.0.0.1:8080"},
	} {
		c, err := Parse("t.yaml", []byte("acme:\n  directory_url: https://acme.example.com/dir\n  agree_terms: true\n"+tc.acme))
		if err != nil {
			t.Fatal(err)
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.ACME.Challenge != tc.challenge || c.ACME.HTTPListen != tc.listen {
			t.Errorf("%q: challenge %q on %q, want %q on %q", tc.acme, c.ACME.Challenge, c.ACME.HTTPListen, tc.challenge, tc.listen)
		}
	}
}

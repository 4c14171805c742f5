package config

import (
	"strings"
	"testing"
)

// TestRoutePathRules checks what the proxy's path rule needs from routes:
// a prefix already in normal form, and one case rule per host.
func TestRoutePathRules(t *testing.T) {
	const head = "external_url: https://portier.example.com\nroutes:\n"
	for _, tc := range []struct{ routes, want string }{
		{`  - {from: "https://a.example.com/admin", to: "http://127.0.0.1:1", policy: p}` + "\n", ""},
		{`  - {from: "https://a.example.com/admin/", to: "http://127.0.0.1:1", policy: p}` + "\n", ""},
		{`  - {from: "https://a.example.com/x/../admin", to: "http://127.0.0.1:1", policy: p}` + "\n", "e2e.yaml:3: route from"},
		{`  - {from: "https://a.example.com//admin", to: "http://127.0.0.1:1", policy: p}` + "\n", "the path prefix must be plain"},
		{`  - {from: "https://a.example.com/%61dmin", to: "http://127.0.0.1:1", policy: p}` + "\n", "the path prefix must be plain"},
		{`  - {from: "https://a.example.com/admin;x", to: "http://127.0.0.1:1", policy: p}` + "\n", "the path prefix must be plain"},
		{`  - {from: "https://a.example.com", to: "http://127.0.0.1:1", policy: p, case_insensitive_paths: true}` + "\n" +
			`  - {from: "https://a.example.com/admin", to: "http://127.0.0.1:1", policy: p, case_insensitive_paths: true}` + "\n", ""},
		{`  - {from: "https://a.example.com", to: "http://127.0.0.1:1", policy: p, case_insensitive_paths: true}` + "\n" +
			`  - {from: "https://A.example.com/admin", to: "http://127.0.0.1:1", policy: p}` + "\n", "e2e.yaml:4: route \"https://A.example.com/admin\": case_insensitive_paths must be the same"},
	} {
		c, err := Parse("e2e.yaml", []byte(head+tc.routes))
		if err != nil {
			t.Fatalf("%s: %v", tc.routes, err)
		}
		c.ApplyDefaults()
		err = c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", tc.routes, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.routes, err, tc.want)
		}
	}
}

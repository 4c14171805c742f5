package config

import (
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/unknown-key.yaml", `testdata/unknown-key.yaml:3: unknown key "lisen"`},
		{"testdata/broken.yaml", "testdata/broken.yaml:4: "},
		{"testdata/bad-route.yaml", `testdata/bad-route.yaml:6: route from must be https://`},
		{"testdata/bad-domain.yaml", `testdata/bad-domain.yaml:7: identity provider "corp": allowed_domains: "*.corp.example" is not a domain name`},
		{"testdata/bad-role.yaml", `testdata/bad-role.yaml:9: identity provider "corp": roles: "superuser" is not a console role`},
		{"testdata/empty-role.yaml", `testdata/empty-role.yaml:8: identity provider "corp": roles: helpdesk needs at least one group`},
		{"testdata/bad-duration.yaml", `testdata/bad-duration.yaml:2: "tomorrow" is not a duration`},
		{"testdata/missing.yaml", "testdata/missing.yaml: cannot read config"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(tc.file, noEnv, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestLoadGoodFile(t *testing.T) {
	c, err := Load("testdata/good.yaml", noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9443" {
		t.Errorf("listen default = %q, want the external URL's port :9443", c.Listen)
	}
	if c.DemoEnabled() {
		t.Error("demo enabled although routes are configured")
	}
	if len(c.Routes) != 1 || time.Duration(c.Routes[0].Timeout) != 30*time.Second {
		t.Errorf("routes = %+v", c.Routes)
	}
	if c.Policies.Kind == 0 || c.Line("policies", 0) != 18 {
		t.Errorf("policies node not kept (line %d)", c.Line("policies", 0))
	}
}

func TestPrecedenceFlagBeatsEnvBeatsFile(t *testing.T) {
	env := map[string]string{"PORTIER_DATA_DIR": "/from/env", "PORTIER_LISTEN": ":7000"}
	c, err := Load("testdata/good.yaml", func(k string) string { return env[k] }, map[string]string{"listen": ":6000"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/env" {
		t.Errorf("data dir = %q, env should beat file", c.DataDir)
	}
	if c.Listen != ":6000" {
		t.Errorf("listen = %q, flag should beat env", c.Listen)
	}
}

func TestDefaultsWithoutConfig(t *testing.T) {
	c, err := Load("", noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ExternalURL != "https://localhost:8443" || c.Listen != ":8443" || c.DataDir != "./portier-data" || !c.DemoEnabled() || c.MetricsListen != "127.0.0.1:9464" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValidateRejectsBadValues(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"external-url", "http://insecure.example.com", "external_url must be an https://"},
		{"listen", "8443", "listen must be host:port"},
		{"store", "mysql://x", "store must be empty"},
		{"log-format", "xml", "log.format"},
	} {
		_, err := Load("", noEnv, map[string]string{tc.flag: tc.value})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: err = %v, want %q", tc.flag, tc.value, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"external_url: https://x\n", "routes:\n  - from: a\n", "policies: [", ": :"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("fuzz.yaml", b)
		if err == nil {
			c.ApplyDefaults()
			_ = c.Validate()
		}
	})
}

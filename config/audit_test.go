package config

import (
	"testing"
	"time"
)

func TestAuditRetention(t *testing.T) {
	cases := []struct {
		yaml string
		want *time.Duration // nil: unset, the default applies
	}{
		{"listen: \":8443\"\n", nil},
		{"audit:\n  retention: 720h\n", ptr(720 * time.Hour)},
		{"audit:\n  retention: 0s\n", ptr(0)},
	}
	for _, tc := range cases {
		c, err := Parse("portier.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		got := c.Audit.Retention
		if (got == nil) != (tc.want == nil) || (got != nil && time.Duration(*got) != *tc.want) {
			t.Errorf("%q: retention = %v, want %v", tc.yaml, got, tc.want)
		}
	}
	if _, err := Parse("portier.yaml", []byte("audit:\n  retention: forever\n")); err == nil {
		t.Error("retention: forever was accepted")
	}
}

func ptr(d time.Duration) *time.Duration { return &d }

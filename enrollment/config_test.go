package enrollment

import (
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/config"
)

func TestParseConfig(t *testing.T) {
	parse := func(doc string) (Config, error) {
		c, err := config.Parse("portier.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("config.Parse: %v", err)
		}
		return ParseConfig(c)
	}
	c, err := parse("external_url: https://p.example\n")
	if err != nil || c.CodeTTL != DefaultCodeTTL || c.WipeEnabled || c.ActionTTL != DefaultActionTTL {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = parse("enrollment:\n  code_ttl: 10m\n  token_ttl: 48h\n  action_ttl: 24h\n  posture_interval: 5m\n  wipe_enabled: true\n")
	if err != nil || c.CodeTTL != 10*time.Minute || c.TokenTTL != 48*time.Hour || c.ActionTTL != 24*time.Hour ||
		c.PostureInterval != 5*time.Minute || !c.WipeEnabled {
		t.Fatalf("parsed: %+v %v", c, err)
	}
	if c.BrowserDeviceRecheck != DefaultBrowserDeviceRecheck || c.AgentDownloadsDir != "" {
		t.Fatalf("byod defaults: %+v", c)
	}
	dir := t.TempDir()
	c, err = parse("enrollment:\n  browser_device_recheck: 0\n  agent_downloads_dir: " + dir + "\n")
	if err != nil || c.BrowserDeviceRecheck != 0 || c.AgentDownloadsDir != dir {
		t.Fatalf("recheck 0 (never) and a downloads dir: %+v %v", c, err)
	}
	if c, err = parse("enrollment:\n  browser_device_recheck: 90m\n"); err != nil || c.BrowserDeviceRecheck != 90*time.Minute {
		t.Fatalf("recheck 90m: %+v %v", c, err)
	}
	for doc, want := range map[string]string{
		"enrollment:\n  browser_device_recheck: 100ms\n":     "portier.yaml:2: enrollment: browser_device_recheck 100ms is out of range",
		"enrollment:\n  browser_device_recheck: daily\n":     "portier.yaml:2: enrollment: browser_device_recheck \"daily\" is not a duration",
		"enrollment:\n  agent_downloads_dir: /nonexistent\n": "portier.yaml:2: enrollment: agent_downloads_dir \"/nonexistent\" is not a directory",
		"enrollment:\n  wipe: true\n":                        "portier.yaml:2: enrollment: unknown key \"wipe\"",
		"enrollment:\n  code_ttl: soon\n":                    "portier.yaml:2: enrollment: code_ttl \"soon\" is not a duration",
		"enrollment:\n  code_ttl: 30s\n":                     "out of range",
		"enrollment:\n\n  wipe_enabled: \"yes\"\n":           "portier.yaml:3: enrollment: wipe_enabled must be true or false",
		"enrollment: [1]\n":                                  "portier.yaml:1: enrollment: must be a mapping",
	} {
		_, err := parse(doc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", doc, err, want)
		}
	}
}

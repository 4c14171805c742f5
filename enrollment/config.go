package enrollment

import (
	"fmt"
	"os"
	"time"

	"github.com/portier/portier/config"
	"gopkg.in/yaml.v3"
)

// Defaults and bounds of Config.
const (
	DefaultCodeTTL         = 15 * time.Minute
	DefaultTokenTTL        = 30 * 24 * time.Hour
	DefaultActionTTL       = 72 * time.Hour
	DefaultPostureInterval = 15 * time.Minute
	// DefaultBrowserDeviceRecheck is how long a browser's passkey proof of
	// its BYOD device counts before the proxy asks for it again.
	DefaultBrowserDeviceRecheck = 12 * time.Hour
	maxCodeTTL                  = 7 * 24 * time.Hour
	maxTokenTTL                 = 366 * 24 * time.Hour
)

// Config is the `enrollment:` section of the config file.
//
//	enrollment:
//	  code_ttl: 15m          # lifetime of a one-time code (default 15m, at most 7 days)
//	  token_ttl: 720h        # default lifetime of a bulk token (at most 366 days)
//	  action_ttl: 72h        # a remote action not acknowledged by then expires
//	  posture_interval: 15m  # how often agents send posture (they also send on change)
//	  wipe_enabled: false    # allow full-device wipe actions (corporate and COPE only)
//	  browser_device_recheck: 12h  # re-ask a browser's device passkey after this (0 = never; 1s to 30 days)
//	  agent_downloads_dir: /srv/portier-agents  # portier-{os}-{arch}[.exe] served at /download/agent/{os}-{arch}
type Config struct {
	CodeTTL         time.Duration
	TokenTTL        time.Duration
	ActionTTL       time.Duration
	PostureInterval time.Duration
	// WipeEnabled allows the full `wipe` action. Off by default: a wipe
	// destroys a whole device, so the operator opts in.
	WipeEnabled bool
	// BrowserDeviceRecheck is how long a browser's proof of its device
	// (the device-bound passkey, Session.DeviceCheckedAt) counts; after it
	// the proxy counts no device until the browser proves it again. 0 is
	// never re-asked. ParseConfig defaults it to DefaultBrowserDeviceRecheck.
	BrowserDeviceRecheck time.Duration
	// AgentDownloadsDir holds agent binaries for other platforms than the
	// server's own, named portier-{os}-{arch} (".exe" for windows); ""
	// serves only the server's own executable.
	AgentDownloadsDir string
}

func (c Config) withDefaults() Config {
	if c.CodeTTL == 0 {
		c.CodeTTL = DefaultCodeTTL
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.ActionTTL == 0 {
		c.ActionTTL = DefaultActionTTL
	}
	if c.PostureInterval == 0 {
		c.PostureInterval = DefaultPostureInterval
	}
	return c
}

// ParseConfig reads the `enrollment:` section of cfg strictly: unknown keys,
// wrong types and out-of-range values are errors naming file:line.
func ParseConfig(cfg *config.Config) (Config, error) {
	n := &cfg.Enrollment
	c := Config{BrowserDeviceRecheck: DefaultBrowserDeviceRecheck}
	if n.Kind == 0 || n.Tag == "!!null" {
		return c.withDefaults(), nil
	}
	errAt := func(node *yaml.Node, format string, args ...any) error {
		return &config.Error{File: cfg.File, Line: node.Line, Msg: "enrollment: " + fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return c, errAt(n, "must be a mapping of settings (code_ttl:, wipe_enabled:, ...)")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "code_ttl":
			c.CodeTTL, err = durationIn(v, time.Minute, maxCodeTTL)
		case "token_ttl":
			c.TokenTTL, err = durationIn(v, time.Minute, maxTokenTTL)
		case "action_ttl":
			c.ActionTTL, err = durationIn(v, time.Minute, 90*24*time.Hour)
		case "posture_interval":
			c.PostureInterval, err = durationIn(v, 30*time.Second, 24*time.Hour)
		case "wipe_enabled":
			if v.Kind != yaml.ScalarNode || v.Decode(&c.WipeEnabled) != nil || v.Tag != "!!bool" {
				err = fmt.Errorf("must be true or false, not %q", v.Value)
			}
		case "browser_device_recheck":
			c.BrowserDeviceRecheck, err = durationIn(v, time.Second, 30*24*time.Hour)
			if v.Value == "0" {
				c.BrowserDeviceRecheck, err = 0, nil
			}
		case "agent_downloads_dir":
			c.AgentDownloadsDir, err = existingDir(v)
		default:
			return c, errAt(k, "unknown key %q (known: code_ttl, token_ttl, action_ttl, posture_interval, wipe_enabled, "+
				"browser_device_recheck, agent_downloads_dir)", k.Value)
		}
		if err != nil {
			return c, errAt(v, "%s %v", k.Value, err)
		}
	}
	return c.withDefaults(), nil
}

// existingDir reads a directory path that must exist.
func existingDir(v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return "", fmt.Errorf("must be a directory path")
	}
	if fi, err := os.Stat(v.Value); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%q is not a directory Portier can read", v.Value)
	}
	return v.Value, nil
}

func durationIn(v *yaml.Node, lo, hi time.Duration) (time.Duration, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("must be a duration such as 15m or 24h")
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write it like 15m or 24h)", v.Value)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s is out of range (%s to %s)", d, lo, hi)
	}
	return d, nil
}

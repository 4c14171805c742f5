package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/portier/portier/mailaddr"
)

// Settings that can come from a flag or a PORTIER_* variable, by flag name.
var settable = map[string]func(*Config, string){
	"external-url":    func(c *Config, v string) { c.ExternalURL = v },
	"listen":          func(c *Config, v string) { c.Listen = v },
	"data-dir":        func(c *Config, v string) { c.DataDir = v },
	"store":           func(c *Config, v string) { c.Store = v },
	"metrics-listen":  func(c *Config, v string) { c.MetricsListen = v },
	"metrics-pprof":   func(c *Config, v string) { c.MetricsPprof = v },
	"log-format":      func(c *Config, v string) { c.Log.Format = v },
	"log-level":       func(c *Config, v string) { c.Log.Level = v },
	"config-policies": func(c *Config, v string) { c.ConfigPolicies = v },
	"max-staleness":   setMaxStaleness,
	"tpm-ek-roots":    func(c *Config, v string) { c.TPMEKRoots = v },
}

// setMaxStaleness reads a Go duration; anything else becomes -1, which
// Validate refuses with the setting's name.
func setMaxStaleness(c *Config, v string) {
	d, err := time.ParseDuration(v)
	if err != nil {
		d = -1
	}
	c.MaxStaleness = Duration(d)
}

// SettableNames lists the names Load accepts in env and flags.
func SettableNames() []string {
	out := make([]string, 0, len(settable))
	for n := range settable {
		out = append(out, n)
	}
	return out
}

// EnvName is the environment variable for a flag: PORTIER_DATA_DIR for data-dir.
func EnvName(flag string) string {
	return "PORTIER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Load builds the effective config: the file (if any), then the environment,
// then flags, then defaults; and validates it.
func Load(file string, env func(string) string, flags map[string]string) (*Config, error) {
	c := &Config{}
	if file != "" {
		var err error
		if c, err = ReadFile(file); err != nil {
			return nil, err
		}
	}
	for name, set := range settable {
		if v := env(EnvName(name)); v != "" {
			set(c, v)
		}
	}
	for name, v := range flags {
		set, ok := settable[name]
		if !ok {
			return nil, fmt.Errorf("config: unknown setting %q", name)
		}
		set(c, v)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ApplyDefaults fills every setting left empty.
func (c *Config) ApplyDefaults() {
	if c.ExternalURL == "" {
		c.ExternalURL = "https://localhost:8443"
	}
	if c.Listen == "" {
		c.Listen = ":8443"
		if u, err := url.Parse(c.ExternalURL); err == nil && u.Port() != "" {
			c.Listen = ":" + u.Port()
		}
	}
	if c.DataDir == "" {
		c.DataDir = "./portier-data"
	}
	if c.MetricsListen == "" {
		c.MetricsListen = "127.0.0.1:9464"
	}
	if c.MetricsPprof == "" {
		c.MetricsPprof = "off"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Demo == nil {
		demo := len(c.Routes) == 0
		c.Demo, c.DemoImplicit = &demo, true
	}
	if c.ConfigPolicies == "" {
		c.ConfigPolicies = PoliciesInStore
	}
	c.applyACMEDefaults()
}

// DemoEnabled reports whether the built-in demo app is served.
func (c *Config) DemoEnabled() bool { return c.Demo != nil && *c.Demo }

// ExternalHost is the host (without port) of the external URL.
func (c *Config) ExternalHost() string {
	u, err := url.Parse(c.ExternalURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Validate checks every setting and names the line of the first bad one.
func (c *Config) Validate() error {
	u, err := url.Parse(c.ExternalURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return c.errAt("external_url must be an https:// origin such as https://portier.example.com (got %q)", []any{"external_url"}, c.ExternalURL)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c.errAt("listen must be host:port or :port (got %q)", []any{"listen"}, c.Listen)
	}
	if c.MetricsListen != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return c.errAt("metrics_listen must be host:port, or off (got %q)", []any{"metrics_listen"}, c.MetricsListen)
		}
	}
	if c.MetricsPprof != "on" && c.MetricsPprof != "off" {
		return c.errAt("metrics_pprof must be on or off (got %q)", []any{"metrics_pprof"}, c.MetricsPprof)
	}
	if c.MetricsPprof == "on" && c.MetricsListen == "off" {
		return c.errAt("metrics_pprof: on needs the metrics listener; metrics_listen is off", []any{"metrics_pprof"})
	}
	if c.MaxStaleness < 0 || (c.MaxStaleness > 0 && time.Duration(c.MaxStaleness) < 100*time.Millisecond) {
		return c.errAt("max_staleness must be a duration of at least 100ms, such as 2s", []any{"max_staleness"})
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		return c.errAt("store must be empty (embedded) or a postgres:// URL", []any{"store"})
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return c.errAt("tls needs both cert_file and key_file, or neither", []any{"tls"})
	}
	if c.DecisionLog.SampleAllows < 0 || c.DecisionLog.SampleAllows > 1 {
		return c.errAt("decision_log.sample_allows must be between 0 and 1", []any{"decision_log", "sample_allows"})
	}
	switch c.ConfigPolicies {
	case PoliciesInStore, PoliciesInFile:
	default:
		return c.errAt("config_policies must be store or file (got %q)", []any{"config_policies"}, c.ConfigPolicies)
	}
	if err := c.validateDecisions(); err != nil {
		return err
	}
	if err := c.validateReport(); err != nil {
		return err
	}
	if err := c.validateApprovals(); err != nil {
		return err
	}
	if err := c.validateACME(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return c.errAt("log.format must be json or text (got %q)", []any{"log", "format"}, c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return c.errAt("log.level must be debug, info, warn or error (got %q)", []any{"log", "level"}, c.Log.Level)
	}
	return c.validateRoutes()
}

func (c *Config) validateRoutes() error {
	idps := map[string]bool{}
	for i, p := range c.IdentityProviders {
		if p.ID == "" || idps[p.ID] {
			return c.errAt("identity provider needs a unique id (got %q)", []any{"identity_providers", i}, p.ID)
		}
		idps[p.ID] = true
		if p.Type != "oidc" {
			return c.errAt("identity provider %q: type must be oidc", []any{"identity_providers", i, "type"}, p.ID)
		}
		if iu, err := url.Parse(p.Issuer); err != nil || iu.Scheme == "" || iu.Host == "" {
			return c.errAt("identity provider %q: issuer must be a URL", []any{"identity_providers", i, "issuer"}, p.ID)
		}
		if p.ClientID == "" {
			return c.errAt("identity provider %q: client_id is required", []any{"identity_providers", i}, p.ID)
		}
		if p.ClientSecret != "" && p.ClientSecretFile != "" {
			return c.errAt("identity provider %q: give client_secret or client_secret_file, not both", []any{"identity_providers", i}, p.ID)
		}
		for j, d := range p.AllowedDomains {
			if _, err := mailaddr.NormalizeDomain(d); err != nil {
				return c.errAt("identity provider %q: allowed_domains: %q is not a domain name (ASCII letters, digits, dots and dashes; write xn-- for international names)", []any{"identity_providers", i, "allowed_domains", j}, p.ID, d)
			}
		}
		if err := c.validateIdPRoles(i, p); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	fold := map[string]bool{}
	ids := map[string]bool{}
	for i, r := range c.Routes {
		if r.ID != "" && !ValidID(r.ID) {
			return c.errAt("route id %q may only hold letters, digits, '-', '_' and '.'", []any{"routes", i, "id"}, r.ID)
		}
		if id := RouteID(r); ids[id] {
			return c.errAt("route id %q is used twice", []any{"routes", i}, id)
		} else {
			ids[id] = true
		}
		fu, err := url.Parse(r.From)
		if err != nil || fu.Scheme != "https" || fu.Hostname() == "" || fu.RawQuery != "" || fu.Fragment != "" {
			return c.errAt("route from must be https://host[:port][/path-prefix] (got %q)", []any{"routes", i, "from"}, r.From)
		}
		if !normalPrefix(fu.EscapedPath()) {
			return c.errAt("route from %q: the path prefix must be plain: no '.' or '..' segment, no '//', no '%%', ';' or '\\'", []any{"routes", i, "from"}, r.From)
		}
		host := strings.ToLower(fu.Hostname())
		if f, ok := fold[host]; ok && f != r.CaseInsensitivePaths {
			return c.errAt("route %q: case_insensitive_paths must be the same on every route of %s", []any{"routes", i, "case_insensitive_paths"}, r.From, host)
		}
		fold[host] = r.CaseInsensitivePaths
		if fu.Hostname() == c.ExternalHost() {
			return c.errAt("route from %q uses the console's own host %s", []any{"routes", i, "from"}, r.From, c.ExternalHost())
		}
		if seen[r.From] {
			return c.errAt("route from %q is defined twice", []any{"routes", i, "from"}, r.From)
		}
		seen[r.From] = true
		tu, err := url.Parse(r.To)
		if err != nil || (tu.Scheme != "http" && tu.Scheme != "https") || tu.Host == "" {
			return c.errAt("route to must be an http:// or https:// upstream URL (got %q)", []any{"routes", i, "to"}, r.To)
		}
		if r.Policy == "" {
			return c.errAt("route %q needs a policy", []any{"routes", i}, r.From)
		}
		if r.IdP != "" && !idps[r.IdP] {
			return c.errAt("route %q names identity provider %q, which is not defined", []any{"routes", i, "idp"}, r.From, r.IdP)
		}
	}
	return nil
}

// normalPrefix reports whether a route's path prefix is already in the
// form the proxy normalises request paths to, so that it can match them.
func normalPrefix(p string) bool {
	if p == "" || p == "/" {
		return true
	}
	if p[0] != '/' || strings.ContainsAny(p, "%;\\") || strings.Contains(p, "//") {
		return false
	}
	for _, s := range strings.Split(strings.TrimSuffix(p[1:], "/"), "/") {
		if s == "." || s == ".." {
			return false
		}
	}
	return true
}

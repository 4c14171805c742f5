package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole of Portier's settings.
type Config struct {
	ExternalURL   string `yaml:"external_url"`
	Listen        string `yaml:"listen"`
	DataDir       string `yaml:"data_dir"`
	Store         string `yaml:"store"`
	MetricsListen string `yaml:"metrics_listen"`
	// MetricsPprof serves Go's pprof profiles under /debug/pprof/ on the
	// metrics listener (never the public one): "off" (the default) or "on".
	MetricsPprof string `yaml:"metrics_pprof"`
	// MaxStaleness bounds how long a replica on a shared store may go
	// without confirming it is caught up before it refuses (0: the
	// default, 2s; see docs/cluster.md).
	MaxStaleness Duration    `yaml:"max_staleness"`
	TLS          TLS         `yaml:"tls"`
	ACME         ACME        `yaml:"acme"`
	CA           CA          `yaml:"ca"`
	Log          Log         `yaml:"log"`
	DecisionLog  DecisionLog `yaml:"decision_log"`
	Audit        Audit       `yaml:"audit"`
	Decisions    Decisions   `yaml:"decisions"`
	// Report holds the cost inputs of the executive report.
	Report    Report    `yaml:"report"`
	Approvals Approvals `yaml:"approvals"`
	// GeoIPDatabase is an operator-supplied MaxMind .mmdb (GeoIP2/GeoLite2
	// Country or City) for the policies' country criterion; without it every
	// request's country is unknown (ZZ).
	GeoIPDatabase     string    `yaml:"geoip_database"`
	IdentityProviders []IdP     `yaml:"identity_providers"`
	Routes            []Route   `yaml:"routes"`
	Policies          yaml.Node `yaml:"policies"`
	// Compliance, Privacy and PostureSources are parsed by package posture
	// (which names file:line in its errors); Enrollment by package enrollment.
	Compliance     yaml.Node `yaml:"compliance"`
	Privacy        yaml.Node `yaml:"privacy"`
	PostureSources yaml.Node `yaml:"posture_sources"`
	Enrollment     yaml.Node `yaml:"enrollment"`
	Demo           *bool     `yaml:"demo"`
	// ConfigPolicies says who owns routes and policies: "store" (the
	// default: the file seeds the store on first start, then the store is
	// authoritative) or "file" (the file is, and API writes are refused).
	ConfigPolicies string `yaml:"config_policies"`
	// TPMEKRoots is a PEM file of TPM manufacturer CA certificates: a
	// TPM-attested device key whose endorsement key certificate chains to
	// one of them is recorded as tpm_attested; without it, as the agent's
	// claim (see docs/enrollment.md).
	TPMEKRoots string `yaml:"tpm_ek_roots"`
	// DemoImplicit is set when demo was not configured and defaults to
	// "on while there are no routes".
	DemoImplicit bool `yaml:"-"`

	// File is the config file read, "" when none; Root is its YAML tree,
	// kept so later checks can name the line of a value.
	File string     `yaml:"-"`
	Root *yaml.Node `yaml:"-"`
}

// TLS names the operator's own certificate for the listener. Empty means
// Portier issues one from its CA.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// CA tunes the embedded certificate authority.
type CA struct {
	DeviceCertLifetime Duration `yaml:"device_cert_lifetime"`
	KeyPasswordFile    string   `yaml:"key_password_file"`
}

// DecisionLog tunes the proxy's decision log.
type DecisionLog struct {
	// SampleAllows is the fraction of allow decisions logged (0 to 1);
	// denials and step-ups are always logged.
	SampleAllows float64 `yaml:"sample_allows"`
}

// Audit tunes the audit log.
type Audit struct {
	// Retention is how long audit events are kept; unset means 400 days,
	// 0 keeps them forever.
	Retention *Duration `yaml:"retention"`
}

// Log chooses the log format and level.
type Log struct {
	Format string `yaml:"format"` // json (default) or text
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// IdP is an OpenID Connect identity provider.
type IdP struct {
	ID               string   `yaml:"id"`
	Type             string   `yaml:"type"`
	Name             string   `yaml:"name"`
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Scopes           []string `yaml:"scopes"`
	GroupsClaim      string   `yaml:"groups_claim"`
	// AllowedDomains are the e-mail domains this provider is trusted for:
	// it may create accounts only in them and link (by a verified e-mail)
	// to existing accounts only in them. Empty: it may create accounts in
	// any domain but never link to an existing account by e-mail.
	AllowedDomains []string `yaml:"allowed_domains"`
	// Roles maps console roles to this provider's groups: a person in one
	// of the groups has the role while signed in through this provider
	// (e.g. security: [secops]). See docs/roles.md.
	Roles map[string][]string `yaml:"roles"`
}

// Route maps an external origin (and optional path prefix) to an upstream.
type Route struct {
	// ID names the route in the store and the API; empty means derived
	// from From (see RouteID).
	ID             string   `yaml:"id"`
	From           string   `yaml:"from"`
	To             string   `yaml:"to"`
	Policy         string   `yaml:"policy"`
	IdP            string   `yaml:"idp"`
	Timeout        Duration `yaml:"timeout"`
	UpstreamCA     string   `yaml:"upstream_ca"`
	PreserveHost   bool     `yaml:"preserve_host"`
	AllowWebsocket *bool    `yaml:"allow_websockets"`
	// CaseInsensitivePaths says the upstream ignores the case of paths (as
	// IIS does): Portier then lower-cases paths before routing, deciding
	// and forwarding. All routes of one host must agree.
	CaseInsensitivePaths bool `yaml:"case_insensitive_paths"`
}

// Duration is a time.Duration written as "15m" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (write it like 90s, 15m or 24h)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// Error is a problem in the config, located at File:Line when known.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return e.Msg
}

// MaxFileSize bounds the config file Portier will read.
const MaxFileSize = 4 << 20

// ReadFile parses a config file strictly: unknown keys, wrong types and
// syntax errors are errors naming file:line.
func ReadFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config: %v", errors.Unwrap(err))}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}
	}
	if len(b) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("config is larger than %d bytes", MaxFileSize)}
	}
	return Parse(path, b)
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var fieldRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// Parse reads config YAML; name is used in errors.
func Parse(name string, b []byte) (*Config, error) {
	c := &Config{File: name}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlError(name, err)
	}
	c.Root = &root
	if len(root.Content) == 0 {
		return c, nil // an empty file is the defaults
	}
	if root.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: root.Content[0].Line, Msg: "the config must be a mapping of keys (external_url:, routes:, ...)"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	return c, nil
}

// yamlError turns yaml.v3's messages into file:line errors; for several
// type errors it keeps the first and counts the rest.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		e := &Error{File: name, Msg: m}
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
		}
		if fm := fieldRE.FindStringSubmatch(e.Msg); fm != nil {
			e.Msg = fmt.Sprintf("unknown key %q", fm[1])
		}
		e.Msg = strings.ReplaceAll(e.Msg, "!!str", "a string")
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

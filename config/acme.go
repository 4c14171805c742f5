package config

import (
	"net"
	"net/mail"
	"net/url"
	"strings"
)

// ACME challenge types.
const (
	ChallengeTLSALPN = "tls-alpn-01"
	ChallengeHTTP    = "http-01"
)

// ACME makes the HTTPS listener serve publicly trusted certificates,
// obtained from an ACME certificate authority (Let's Encrypt, ZeroSSL, a
// company's own ACME server), for the console host and the route hosts.
// Unset (no directory_url): Portier's own CA issues the listener's
// certificate. Device certificates (mTLS) are Portier's CA's either way.
type ACME struct {
	// DirectoryURL is the ACME directory, such as
	// https://acme-v02.api.letsencrypt.org/directory; empty turns ACME off.
	DirectoryURL string `yaml:"directory_url"`
	// Email is the account's contact, where the CA sends expiry warnings.
	Email string `yaml:"email"`
	// AgreeTerms accepts the CA's terms of service; required.
	AgreeTerms bool `yaml:"agree_terms"`
	// Challenge is tls-alpn-01 (the default: answered on the HTTPS
	// listener, which must be reachable on port 443) or http-01 (answered
	// on HTTPListen, which must be reachable on port 80).
	Challenge string `yaml:"challenge"`
	// HTTPListen is where the http-01 challenge is answered (default
	// ":80"); that listener redirects everything else to HTTPS.
	HTTPListen string `yaml:"http_listen"`
	// CARootFile is a PEM file of the roots that the ACME directory's own
	// HTTPS certificate chains to, for a private ACME server; empty means
	// the system's roots.
	CARootFile string `yaml:"ca_root_file"`
	// Hosts are the host names that get an ACME certificate; empty means
	// the console's host and every route host (those added later too).
	// Other hosts keep a certificate from Portier's CA.
	Hosts []string `yaml:"hosts"`
}

// Enabled reports whether ACME is configured.
func (a ACME) Enabled() bool { return a.DirectoryURL != "" }

// applyACMEDefaults fills the challenge type and the http-01 listener.
func (c *Config) applyACMEDefaults() {
	if !c.ACME.Enabled() {
		return
	}
	if c.ACME.Challenge == "" {
		c.ACME.Challenge = ChallengeTLSALPN
	}
	if c.ACME.HTTPListen == "" && c.ACME.Challenge == ChallengeHTTP {
		c.ACME.HTTPListen = ":80"
	}
}

// validateACME checks the acme section, naming the line of a bad value.
func (c *Config) validateACME() error {
	a := c.ACME
	if !a.Enabled() {
		if a.Email != "" || a.AgreeTerms || a.Challenge != "" || a.HTTPListen != "" || a.CARootFile != "" || len(a.Hosts) > 0 {
			return c.errAt("acme needs a directory_url (such as https://acme-v02.api.letsencrypt.org/directory)", []any{"acme"})
		}
		return nil
	}
	if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return c.errAt("acme.directory_url must be an https:// URL (got %q)", []any{"acme", "directory_url"}, a.DirectoryURL)
	}
	if c.TLS.CertFile != "" {
		return c.errAt("acme and tls.cert_file exclude each other: choose ACME or your own certificate", []any{"acme"})
	}
	if a.Email != "" {
		if m, err := mail.ParseAddress(a.Email); err != nil || m.Address != a.Email {
			return c.errAt("acme.email must be a plain e-mail address (got %q)", []any{"acme", "email"}, a.Email)
		}
	}
	if !a.AgreeTerms {
		return c.errAt("acme.agree_terms must be true: the ACME CA issues certificates only to accounts that accept its terms", []any{"acme", "agree_terms"})
	}
	switch a.Challenge {
	case ChallengeTLSALPN:
		if a.HTTPListen != "" {
			return c.errAt("acme.http_listen is only used with challenge: http-01", []any{"acme", "http_listen"})
		}
	case ChallengeHTTP:
		if _, _, err := net.SplitHostPort(a.HTTPListen); err != nil {
			return c.errAt("acme.http_listen must be host:port or :port (got %q)", []any{"acme", "http_listen"}, a.HTTPListen)
		}
	default:
		return c.errAt("acme.challenge must be tls-alpn-01 or http-01 (got %q)", []any{"acme", "challenge"}, a.Challenge)
	}
	seen := map[string]bool{}
	for i, h := range a.Hosts {
		if !hostName(h) {
			return c.errAt("acme.hosts: %q is not a host name (letters, digits, dots and dashes; no port, no wildcard, no IP address)", []any{"acme", "hosts", i}, h)
		}
		if seen[strings.ToLower(h)] {
			return c.errAt("acme.hosts: %q is listed twice", []any{"acme", "hosts", i}, h)
		}
		seen[strings.ToLower(h)] = true
	}
	return nil
}

// hostName reports whether h is a DNS name an ACME CA can validate: dot
// separated labels of letters, digits and inner dashes, not an IP address.
func hostName(h string) bool {
	if h == "" || len(h) > 253 || net.ParseIP(h) != nil {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"strings"
)

// DefaultServerHosts returns the names the embedded default serves:
// localhost and *.localhost (both resolve to loopback in browsers and curl),
// 127.0.0.1 and ::1. The caller adds the external host.
func DefaultServerHosts() []string { return []string{"localhost", "*.localhost", "127.0.0.1", "::1"} }

// IssueServerTLS issues a TLS server certificate for Portier's own HTTPS
// listener, for hosts (DNS names, "*." wildcards, or IP addresses), with a
// fresh P-256 key. It is valid for Options.ServerCertLifetime; the caller
// calls again before Leaf.NotAfter to rotate it.
func (c *CA) IssueServerTLS(ctx context.Context, hosts []string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("ca: server certificate needs at least one host name")
	}
	var dns, ips []string
	seen := map[string]bool{}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			ips = append(ips, ip.String())
			continue
		}
		if err := checkHostName(h); err != nil {
			return tls.Certificate{}, err
		}
		dns = append(dns, h)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	cn := strings.TrimSpace(hosts[0])
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	tpl := certTemplate{
		"subject":     map[string]any{"commonName": cn, "organization": c.opts.Organization},
		"dnsNames":    dns,
		"ipAddresses": ips,
		"keyUsage":    []string{"digitalSignature"},
		"extKeyUsage": []string{"serverAuth"},
	}
	chain, err := c.sign(ctx, csr, tpl, c.opts.ServerCertLifetime)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("ca: issue server certificate for %s: %w", strings.Join(hosts, ", "), err)
	}
	out := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, crt := range chain {
		out.Certificate = append(out.Certificate, crt.Raw)
	}
	c.log.Info("ca: issued server certificate", "hosts", hosts, "serial", chain[0].SerialNumber.String(),
		"not_after", chain[0].NotAfter)
	return out, nil
}

// checkHostName accepts a DNS name, optionally with a leading "*." label.
func checkHostName(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(h) > 253 {
		return fmt.Errorf("ca: invalid host name %q", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("ca: invalid host name %q", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("ca: invalid host name %q", h)
			}
		}
	}
	return nil
}

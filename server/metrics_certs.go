package server

import (
	"crypto/x509"

	"github.com/portier/portier/ca"
	"github.com/prometheus/client_golang/prometheus"
)

// certExpiry exports when Portier's certificates stop being valid, as
// portier_certificate_not_after_seconds{cert="root"|"intermediate"|"listener"}
// (unix seconds), for expiry alerts, and when they started being valid
// (portier_certificate_not_before_seconds), so that alerts can tell a
// certificate Portier renews every few days from a long-lived one. The
// listener's values follow rotation.
func certExpiry(c *ca.CA, cs *certSource) []prometheus.Collector {
	gauge := func(name string, leaf func() *x509.Certificate, opts prometheus.GaugeOpts, at func(*x509.Certificate) int64) prometheus.Collector {
		opts.ConstLabels = prometheus.Labels{"cert": name}
		return prometheus.NewGaugeFunc(opts, func() float64 {
			if l := leaf(); l != nil {
				return float64(at(l))
			}
			return 0
		})
	}
	notAfter := prometheus.GaugeOpts{
		Name: "portier_certificate_not_after_seconds",
		Help: "When a certificate of Portier expires (unix seconds): the CA root, the intermediate, and the HTTPS listener's certificate.",
	}
	notBefore := prometheus.GaugeOpts{
		Name: "portier_certificate_not_before_seconds",
		Help: "When a certificate of Portier became valid (unix seconds): with not_after, its lifetime.",
	}
	leaves := []struct {
		name string
		leaf func() *x509.Certificate
	}{
		{"root", func() *x509.Certificate { return c.Roots()[0] }},
		{"intermediate", c.Intermediate},
		{"listener", cs.leaf},
	}
	var out []prometheus.Collector
	for _, l := range leaves {
		out = append(out, gauge(l.name, l.leaf, notAfter, func(c *x509.Certificate) int64 { return c.NotAfter.Unix() }),
			gauge(l.name, l.leaf, notBefore, func(c *x509.Certificate) int64 { return c.NotBefore.Unix() }))
	}
	return out
}

// leaf is the listener certificate's parsed leaf, nil if it cannot be parsed.
func (cs *certSource) leaf() *x509.Certificate {
	cert := cs.cert.Load()
	if cert == nil {
		return nil
	}
	if cert.Leaf != nil {
		return cert.Leaf
	}
	if len(cert.Certificate) == 0 {
		return nil
	}
	l, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return l
}

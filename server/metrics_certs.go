package server

import (
	"crypto/x509"

	"github.com/portier/portier/ca"
	"github.com/prometheus/client_golang/prometheus"
)

// certExpiry exports when Portier's certificates stop being valid, as
// portier_certificate_not_after_seconds{cert="root"|"intermediate"|"listener"}
// (unix seconds), for expiry alerts. The listener's value follows rotation.
func certExpiry(c *ca.CA, cs *certSource) []prometheus.Collector {
	gauge := func(name string, leaf func() *x509.Certificate) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "portier_certificate_not_after_seconds",
			Help:        "When a certificate of Portier expires (unix seconds): the CA root, the intermediate, and the HTTPS listener's certificate.",
			ConstLabels: prometheus.Labels{"cert": name},
		}, func() float64 {
			if l := leaf(); l != nil {
				return float64(l.NotAfter.Unix())
			}
			return 0
		})
	}
	return []prometheus.Collector{
		gauge("root", func() *x509.Certificate { return c.Roots()[0] }),
		gauge("intermediate", c.Intermediate),
		gauge("listener", cs.leaf),
	}
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

package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/smallstep/certificates/authority/provisioner"
	"go.step.sm/crypto/x509util"
)

// certTemplate is the whole certificate Portier issues, written as
// smallstep's JSON certificate (what its templates render to). Nothing in
// the request is copied except the public key.
type certTemplate map[string]any

// Options implements provisioner.CertificateOptions.
func (t certTemplate) Options(provisioner.SignOptions) []x509util.Option {
	return []x509util.Option{func(_ *x509.CertificateRequest, o *x509util.Options) error {
		b, err := json.Marshal(t)
		if err != nil {
			return err
		}
		o.CertBuffer = bytes.NewBuffer(b)
		return nil
	}}
}

// validity sets the certificate's validity from Portier's clock, capped at
// the intermediate's expiry so no certificate outlives its issuer.
type validity struct {
	now      time.Time
	lifetime time.Duration
	cap      time.Time
}

// Modify implements provisioner.CertificateModifier.
func (v validity) Modify(crt *x509.Certificate, so provisioner.SignOptions) error {
	crt.NotBefore = v.now.Add(-so.Backdate).Truncate(time.Second)
	crt.NotAfter = v.now.Add(v.lifetime).Truncate(time.Second)
	if crt.NotAfter.After(v.cap) {
		crt.NotAfter = v.cap
	}
	if !crt.NotAfter.After(v.now) {
		return fmt.Errorf("the intermediate certificate expired on %s", v.cap.Format(time.RFC3339))
	}
	return nil
}

// IssueDevice signs a device certificate for csr, persisted in the store
// before it is returned. It returns the chain leaf first, then the
// intermediate. The leaf's subject common name is deviceID, its only SAN is
// DeviceURI(deviceID), its extended key usage is client authentication, and
// it is valid for Options.DeviceCertLifetime, and it carries key (see
// OIDKeyInfo). The caller must have authenticated the device (e.g. by an
// enrollment code) and decided what key says: the CA trusts both.
func (c *CA) IssueDevice(ctx context.Context, csr *x509.CertificateRequest, deviceID string, key KeyInfo) ([]*x509.Certificate, error) {
	if err := ValidateCSR(csr, deviceID); err != nil {
		return nil, err
	}
	tpl, err := c.deviceTemplate(deviceID, key)
	if err != nil {
		return nil, err
	}
	chain, err := c.sign(ctx, csr, tpl, c.opts.DeviceCertLifetime)
	if err != nil {
		return nil, fmt.Errorf("ca: issue certificate for device %s: %w", deviceID, err)
	}
	c.log.Info("ca: issued device certificate", "device", deviceID, "serial", chain[0].SerialNumber.String(),
		"not_after", chain[0].NotAfter, "key_protection", key.Protection, "key_protection_source", key.Source,
		"purpose", key.Purpose)
	return chain, nil
}

// deviceTemplate is the whole device certificate but its key and validity.
func (c *CA) deviceTemplate(deviceID string, key KeyInfo) (certTemplate, error) {
	ext, err := key.templateExtension()
	if err != nil {
		return nil, err
	}
	return certTemplate{
		"subject":               map[string]any{"commonName": deviceID, "organization": c.opts.Organization},
		"uris":                  []string{DeviceURI(deviceID)},
		"keyUsage":              []string{"digitalSignature"},
		"extKeyUsage":           []string{"clientAuth"},
		"crlDistributionPoints": []string{c.opts.CRLURL},
		"extensions":            []map[string]any{ext},
	}, nil
}

// sign runs smallstep's signing path with Portier's template and validity.
// No provisioner or one-time token is involved: the caller has already
// authorized the request in-process.
func (c *CA) sign(ctx context.Context, csr *x509.CertificateRequest, tpl certTemplate, lifetime time.Duration) ([]*x509.Certificate, error) {
	chain, err := c.auth.SignWithContext(ctx, csr, provisioner.SignOptions{},
		tpl, validity{now: c.clock(), lifetime: lifetime, cap: c.inter.NotAfter})
	if err != nil {
		return nil, err
	}
	if len(chain) < 2 {
		return nil, fmt.Errorf("authority returned a chain of %d certificates", len(chain))
	}
	return chain, nil
}

// Renew issues a new certificate for the device of leaf, valid from now.
// With newCSR nil the key stays the same and the certificate is identical to
// leaf (same subject, names and extensions, the key's KeyInfo included) for
// the same length of time. Otherwise the certificate is rekeyed to newCSR's
// key, after the same checks as IssueDevice: it is a new device certificate
// (for Options.DeviceCertLifetime) that carries newKey, since what leaf said
// about its key says nothing about another key. leaf must be a current,
// unrevoked certificate issued by this CA to a device. The old certificate
// stays valid until it expires or is revoked.
func (c *CA) Renew(ctx context.Context, leaf *x509.Certificate, newCSR *x509.CertificateRequest, newKey KeyInfo) ([]*x509.Certificate, error) {
	if leaf == nil || leaf.SerialNumber == nil {
		return nil, fmt.Errorf("ca: renew: %w: no certificate", ErrUnknownCertificate)
	}
	serial := leaf.SerialNumber.String()
	rec, ok := c.st.Certificate(serial)
	if !ok || !bytes.Equal(rec.DER, leaf.Raw) {
		return nil, fmt.Errorf("ca: renew %s: %w: not issued by this CA", serial, ErrUnknownCertificate)
	}
	deviceID, ok := DeviceIDFromCert(leaf)
	if !ok {
		return nil, fmt.Errorf("ca: renew %s: %w: not a device certificate", serial, ErrUntrusted)
	}
	now := c.clock()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("ca: renew %s: %w (valid %s to %s); the device must enroll again", serial,
			ErrExpired, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	if c.st.IsRevoked(serial) {
		return nil, fmt.Errorf("ca: renew %s: %w", serial, ErrRevoked)
	}
	if newCSR != nil {
		chain, err := c.IssueDevice(ctx, newCSR, deviceID, newKey)
		if err != nil {
			return nil, err
		}
		c.log.Info("ca: rekeyed device certificate", "device", deviceID, "old_serial", serial,
			"serial", chain[0].SerialNumber.String())
		return chain, nil
	}
	chain, err := c.auth.RenewContext(ctx, leaf, nil)
	if err != nil {
		return nil, fmt.Errorf("ca: renew %s: %w", serial, err)
	}
	c.log.Info("ca: renewed device certificate", "device", deviceID, "old_serial", serial,
		"serial", chain[0].SerialNumber.String(), "not_after", chain[0].NotAfter)
	return chain, nil
}

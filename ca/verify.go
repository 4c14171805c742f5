package ca

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// VerifyClient checks a client certificate chain as presented in a TLS
// handshake (leaf first) and returns the device id and the leaf's serial.
// The leaf must chain to Portier's root through Portier's intermediate
// (intermediates sent by the client are ignored), be valid at now, allow
// client authentication, name a device, and not be revoked. Whether the
// device itself may connect (retired, quarantined, ...) is for the caller
// to look up by serial.
func (c *CA) VerifyClient(chain []*x509.Certificate, now time.Time) (deviceID, serial string, err error) {
	if len(chain) == 0 || chain[0] == nil {
		return "", "", fmt.Errorf("ca: %w: no client certificate", ErrUntrusted)
	}
	leaf := chain[0]
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:         c.rootPool,
		Intermediates: c.interPool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return "", "", fmt.Errorf("ca: %w: %v", ErrExpired, err)
		}
		return "", "", fmt.Errorf("ca: %w: %v", ErrUntrusted, err)
	}
	serial = leaf.SerialNumber.String()
	deviceID, ok := DeviceIDFromCert(leaf)
	if !ok {
		return "", serial, fmt.Errorf("ca: %w: certificate %s names no device", ErrUntrusted, serial)
	}
	if c.st.IsRevoked(serial) {
		return "", serial, fmt.Errorf("ca: certificate %s of device %s: %w", serial, deviceID, ErrRevoked)
	}
	return deviceID, serial, nil
}

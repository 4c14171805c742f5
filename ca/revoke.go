package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"github.com/portier/portier/store"
	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/provisioner"
)

// Revocation reason codes (RFC 5280, 5.3.1) that Revoke accepts.
// certificateHold and removeFromCRL are not supported: a revocation is final.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

func validReason(code int) bool {
	switch code {
	case ReasonUnspecified, ReasonKeyCompromise, ReasonCACompromise, ReasonAffiliationChanged,
		ReasonSuperseded, ReasonCessationOfOperation, ReasonPrivilegeWithdrawn, ReasonAACompromise:
		return true
	}
	return false
}

// Revoke revokes a certificate this CA issued, by decimal serial. The
// revocation is durable and visible to IsRevoked on return, on every
// replica once the store has caught up, and in the next CRL. Revoking a
// revoked serial again is not an error and keeps the first revocation.
func (c *CA) Revoke(ctx context.Context, serial string, reasonCode int, reason string) error {
	if n, ok := new(big.Int).SetString(serial, 10); !ok || n.Sign() <= 0 || n.String() != serial {
		return fmt.Errorf("ca: revoke: %w: serial %q is not a positive decimal number", ErrUnknownCertificate, serial)
	}
	if !validReason(reasonCode) {
		return fmt.Errorf("ca: revoke %s: unsupported reason code %d", serial, reasonCode)
	}
	if c.st.IsRevoked(serial) {
		return nil
	}
	rec, ok := c.st.Certificate(serial)
	if !ok {
		return fmt.Errorf("ca: revoke %s: %w", serial, ErrUnknownCertificate)
	}
	crt, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return fmt.Errorf("ca: revoke %s: stored certificate is corrupt: %w", serial, err)
	}
	// MTLS marks a revocation authorized by the caller rather than by a
	// one-time token; RevokeMethod makes smallstep record the expiry.
	ctx = provisioner.NewContextWithMethod(ctx, provisioner.RevokeMethod)
	err = c.auth.Revoke(ctx, &authority.RevokeOptions{
		Serial: serial, ReasonCode: reasonCode, Reason: reason, MTLS: true, Crt: crt,
	})
	if err != nil {
		if c.st.IsRevoked(serial) {
			return nil // revoked concurrently
		}
		return fmt.Errorf("ca: revoke %s: %w", serial, err)
	}
	c.log.Info("ca: revoked certificate", "serial", serial, "device", rec.DeviceID,
		"reason_code", reasonCode, "reason", reason)
	return nil
}

// RevokeOp returns the store write that revokes a certificate this CA
// issued, for a caller that must commit the revocation in the same
// transaction as its own records (a device retired by a wipe: either both
// land or neither does). It records exactly what Revoke records. The op is
// a Create: if another writer revokes the serial first, the whole Write
// fails with store.ErrExists, and the caller builds its write again (the
// serial is then already revoked). ok is false, with no op, when the serial
// is already revoked here.
func (c *CA) RevokeOp(serial string, reasonCode int, reason string) (op store.Op, ok bool, err error) {
	if n, isNum := new(big.Int).SetString(serial, 10); !isNum || n.Sign() <= 0 || n.String() != serial {
		return op, false, fmt.Errorf("ca: revoke: %w: serial %q is not a positive decimal number", ErrUnknownCertificate, serial)
	}
	if !validReason(reasonCode) {
		return op, false, fmt.Errorf("ca: revoke %s: unsupported reason code %d", serial, reasonCode)
	}
	if c.st.IsRevoked(serial) {
		return op, false, nil
	}
	rec, found := c.st.Certificate(serial)
	if !found {
		return op, false, fmt.Errorf("ca: revoke %s: %w", serial, ErrUnknownCertificate)
	}
	return store.Create(&store.Revocation{
		ID: serial, ReasonCode: reasonCode, Reason: reason,
		RevokedAt: c.clock().UTC(), NotAfter: rec.NotAfter,
	}), true, nil
}

// IsRevoked reports whether a serial (decimal) is revoked: one in-memory
// lookup, for the per-request check.
func (c *CA) IsRevoked(serial string) bool { return c.st.IsRevoked(serial) }

// CRL returns the current CRL in DER, signed by the intermediate. It is
// cached and regenerated only when a revocation was added or removed (here
// or on another replica) or when a third of its lifetime is left.
func (c *CA) CRL(ctx context.Context) ([]byte, error) {
	c.crlMu.Lock()
	defer c.crlMu.Unlock()
	if last := c.db.lastCRL(); c.crlFresh(last) {
		return last.info.DER, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.auth.GenerateCertificateRevocationList(); err != nil {
		return nil, fmt.Errorf("ca: generate CRL: %w", err)
	}
	last := c.db.lastCRL()
	if last == nil || len(last.info.DER) == 0 {
		return nil, errors.New("ca: generate CRL: nothing was stored")
	}
	return last.info.DER, nil
}

// crlFresh reports whether a CRL this process generated can be served.
func (c *CA) crlFresh(s *crlState) bool {
	if s == nil || s.watch == nil || len(s.info.DER) == 0 {
		return false
	}
	select {
	case <-s.watch:
		return false
	default:
	}
	refreshAt := s.info.ExpiresAt.Add(-s.info.Duration / 3)
	return c.clock().Before(refreshAt)
}

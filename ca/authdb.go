package ca

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smallstep/certificates/db"
	"github.com/smallstep/nosql/database"
	"golang.org/x/crypto/ssh"

	"github.com/portier/portier/store"
)

// CRLBlob is the store.Blob id that holds the last generated CRL.
const CRLBlob = "ca/crl"

// writeTimeout bounds a store write made from inside smallstep, whose DB
// interface carries no context.
const writeTimeout = 30 * time.Second

// authDB is smallstep's database, implemented on Portier's store: issued
// certificates and revocations are store records, the CRL is a blob, and the
// revocation check is one lookup in the read model. SSH is not supported.
type authDB struct {
	st    *store.Store
	clock func() time.Time

	mu           sync.Mutex
	pendingWatch <-chan struct{} // revocations watch, taken when the CRL's list was read
	last         *crlState       // the CRL this process generated last
}

// crlState is a generated CRL and the watch that fires when the revocations
// it was built from change.
type crlState struct {
	info  db.CertificateRevocationListInfo
	watch <-chan struct{}
}

var (
	_ db.AuthDB                      = (*authDB)(nil)
	_ db.CertificateStorer           = (*authDB)(nil)
	_ db.CertificateRevocationListDB = (*authDB)(nil)
)

// IsRevoked reports whether serial (decimal) is revoked.
func (d *authDB) IsRevoked(sn string) (bool, error) { return d.st.IsRevoked(sn), nil }

// IsSSHRevoked always reports false: Portier issues no SSH certificates.
func (d *authDB) IsSSHRevoked(string) (bool, error) { return false, nil }

// Revoke records a revocation. A serial revoked twice is db.ErrAlreadyExists.
func (d *authDB) Revoke(rci *db.RevokedCertificateInfo) error {
	rev := &store.Revocation{
		ID:         rci.Serial,
		ReasonCode: rci.ReasonCode,
		Reason:     rci.Reason,
		RevokedAt:  d.clock().UTC(),
		NotAfter:   rci.ExpiresAt,
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	err := d.st.Write(ctx, store.Create(rev))
	if errors.Is(err, store.ErrExists) {
		return db.ErrAlreadyExists
	}
	return err
}

// RevokeSSH is not supported.
func (d *authDB) RevokeSSH(*db.RevokedCertificateInfo) error { return db.ErrNotImplemented }

// GetCertificate returns an issued certificate by serial.
func (d *authDB) GetCertificate(serial string) (*x509.Certificate, error) {
	rec, ok := d.st.Certificate(serial)
	if !ok {
		return nil, fmt.Errorf("ca: serial %s: %w", serial, ErrUnknownCertificate)
	}
	return x509.ParseCertificate(rec.DER)
}

// UseToken is not supported: Portier signs in-process, without one-time tokens.
func (d *authDB) UseToken(string, string) (bool, error) { return false, db.ErrNotImplemented }

// IsSSHHost always reports false.
func (d *authDB) IsSSHHost(string) (bool, error) { return false, nil }

// GetSSHHostPrincipals is not supported.
func (d *authDB) GetSSHHostPrincipals() ([]string, error) { return nil, db.ErrNotImplemented }

// Shutdown does nothing: the store belongs to the caller.
func (d *authDB) Shutdown() error { return nil }

// StoreCertificate records an issued certificate. Create refuses a serial
// that already exists, so a (vanishingly unlikely) collision fails the
// issuance instead of replacing a record.
func (d *authDB) StoreCertificate(crt *x509.Certificate) error {
	id, _ := DeviceIDFromCert(crt)
	rec := &store.Certificate{
		ID:        crt.SerialNumber.String(),
		DeviceID:  id,
		Subject:   crt.Subject.String(),
		NotBefore: crt.NotBefore,
		NotAfter:  crt.NotAfter,
		DER:       crt.Raw,
	}
	if id != "" {
		k := KeyInfoFromCert(crt)
		rec.Purpose, rec.Person, rec.KeyProtection, rec.KeyProtectionSource = k.Purpose, k.Person, k.Protection, k.Source
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := d.st.Write(ctx, store.Create(rec)); err != nil {
		return fmt.Errorf("ca: store certificate %s: %w", rec.ID, err)
	}
	return nil
}

// StoreSSHCertificate is not supported.
func (d *authDB) StoreSSHCertificate(*ssh.Certificate) error { return db.ErrNotImplemented }

// GetRevokedCertificates lists every revocation for the CRL, and remembers
// a watch on the revocation table taken in the same snapshot, so the CRL
// built from this list knows when it is stale.
func (d *authDB) GetRevokedCertificates() (*[]db.RevokedCertificateInfo, error) {
	txn := d.st.Txn()
	it, err := txn.Get(string(store.KindRevocation), "id")
	if err != nil {
		return nil, fmt.Errorf("ca: list revocations: %w", err)
	}
	var out []db.RevokedCertificateInfo
	for raw := it.Next(); raw != nil; raw = it.Next() {
		r, ok := raw.(*store.Revocation)
		if !ok {
			return nil, fmt.Errorf("ca: unexpected %T in the revocation table", raw)
		}
		out = append(out, db.RevokedCertificateInfo{
			Serial: r.ID, ReasonCode: r.ReasonCode, Reason: r.Reason,
			RevokedAt: r.RevokedAt, ExpiresAt: r.NotAfter,
		})
	}
	d.mu.Lock()
	d.pendingWatch = it.WatchCh()
	d.mu.Unlock()
	return &out, nil
}

// crlJSON is the CRL blob's form.
type crlJSON struct {
	Number    int64         `json:"number"`
	ExpiresAt time.Time     `json:"expires_at"`
	Duration  time.Duration `json:"duration"`
	DER       []byte        `json:"der"`
}

// GetCRL returns the last stored CRL; its number seeds the next one.
func (d *authDB) GetCRL() (*db.CertificateRevocationListInfo, error) {
	b, ok := d.st.Blob(CRLBlob)
	if !ok {
		return nil, database.ErrNotFound
	}
	var c crlJSON
	if err := json.Unmarshal(b.Data, &c); err != nil {
		return nil, fmt.Errorf("ca: stored CRL is corrupt: %w", err)
	}
	return &db.CertificateRevocationListInfo{Number: c.Number, ExpiresAt: c.ExpiresAt, Duration: c.Duration, DER: c.DER}, nil
}

// StoreCRL stores a new CRL. smallstep calls it under its CRL lock right
// after GetRevokedCertificates, so the pending watch belongs to this CRL.
func (d *authDB) StoreCRL(info *db.CertificateRevocationListInfo) error {
	data, err := json.Marshal(crlJSON{Number: info.Number, ExpiresAt: info.ExpiresAt, Duration: info.Duration, DER: info.DER})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := d.st.Write(ctx, store.Put(&store.Blob{ID: CRLBlob, Data: data})); err != nil {
		return fmt.Errorf("ca: store CRL: %w", err)
	}
	d.mu.Lock()
	d.last = &crlState{info: *info, watch: d.pendingWatch}
	d.mu.Unlock()
	return nil
}

// lastCRL returns the CRL this process generated last, or nil.
func (d *authDB) lastCRL() *crlState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

package ca

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"

	"github.com/portier/portier/store"
)

// Defaults for Options.
const (
	DefaultDeviceCertLifetime = 24 * time.Hour
	DefaultServerCertLifetime = 7 * 24 * time.Hour
	DefaultCRLLifetime        = 24 * time.Hour
	DefaultOrganization       = "Portier"
	DefaultCRLURL             = "https://localhost:8443/ca/crl"
	// certBackdate is subtracted from NotBefore of issued certificates to
	// absorb clock skew.
	certBackdate = time.Minute
)

// Options configure New. Store and Keys are required.
type Options struct {
	Store *store.Store
	Keys  KeyStore
	// Clock is the time source (default time.Now). It sets the validity of
	// issued certificates and revocation times and decides expiry checks.
	// smallstep itself reads the wall clock for the validity of renewed
	// certificates and for the CRL's thisUpdate/nextUpdate.
	Clock func() time.Time
	Log   *slog.Logger // default: discard
	// Organization goes into the subject (O=) of the CA and issued
	// certificates; default "Portier".
	Organization string
	// DeviceCertLifetime is the validity of a newly issued device
	// certificate (default 24h). A renewal keeps the lifetime of the
	// certificate it renews.
	DeviceCertLifetime time.Duration
	// ServerCertLifetime is the validity of IssueServerTLS certificates
	// (default 7 days); the caller rotates them before they expire.
	ServerCertLifetime time.Duration
	// CRLLifetime is the CRL's nextUpdate distance (default 24h). The CRL
	// is also regenerated as soon as a revocation changes.
	CRLLifetime time.Duration
	// CRLURL is where the CRL is published: the external URL + "/ca/crl"
	// (default DefaultCRLURL). It is written into device certificates (CRL
	// distribution point) and into the CRL (issuing distribution point),
	// which must match for relying parties that check CRL scope.
	CRLURL string
}

// CA is Portier's certificate authority. It is safe for concurrent use.
type CA struct {
	st    *store.Store
	auth  *authority.Authority
	db    *authDB
	clock func() time.Time
	log   *slog.Logger
	opts  Options

	root, inter *x509.Certificate
	rootPool    *x509.CertPool
	interPool   *x509.CertPool
	rootsPEM    []byte
	fingerprint string

	crlMu sync.Mutex // one CRL generation at a time

	closeOnce sync.Once
	closeErr  error
}

// New loads the CA from opts.Keys, creating a new root and intermediate on
// first start, and starts the embedded smallstep authority. It never
// creates a CA over material that exists but cannot be read: that is an
// error the operator must resolve.
func New(ctx context.Context, opts Options) (*CA, error) {
	if opts.Store == nil || opts.Keys == nil {
		return nil, errors.New("ca: Options.Store and Options.Keys are required")
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	keys, err := loadOrCreate(ctx, opts)
	if err != nil {
		return nil, err
	}
	if now := opts.Clock(); now.After(keys.Intermediate.NotAfter) {
		return nil, fmt.Errorf("ca: the intermediate certificate expired on %s; rotate it with the root key",
			keys.Intermediate.NotAfter.Format(time.RFC3339))
	} else if keys.Intermediate.NotAfter.Sub(now) < 90*24*time.Hour {
		opts.Log.Warn("ca: the intermediate certificate expires soon", "not_after", keys.Intermediate.NotAfter)
	}
	c := &CA{
		st: opts.Store, clock: opts.Clock, log: opts.Log, opts: opts,
		root: keys.Root, inter: keys.Intermediate,
		rootPool: x509.NewCertPool(), interPool: x509.NewCertPool(),
	}
	c.rootPool.AddCert(keys.Root)
	c.interPool.AddCert(keys.Intermediate)
	c.rootsPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: keys.Root.Raw})
	sum := sha256.Sum256(keys.Root.Raw)
	c.fingerprint = hex.EncodeToString(sum[:])
	c.db = &authDB{st: opts.Store, clock: opts.Clock}

	cfg := &config.Config{
		CommonName: "Portier CA",
		AuthorityConfig: &config.AuthConfig{
			Backdate: &provisioner.Duration{Duration: certBackdate},
		},
		CRL: &config.CRLConfig{
			Enabled:       true,
			CacheDuration: &provisioner.Duration{Duration: opts.CRLLifetime},
			IDPurl:        opts.CRLURL,
		},
	}
	c.auth, err = authority.NewEmbedded(
		authority.WithConfig(cfg),
		authority.WithX509RootCerts(keys.Root),
		authority.WithX509Signer(keys.Intermediate, keys.IntermediateKey),
		authority.WithDatabase(c.db),
		authority.WithQuietInit(),
	)
	if err != nil {
		return nil, fmt.Errorf("ca: start authority: %w", err)
	}
	opts.Log.Info("ca: ready", "fingerprint", c.fingerprint, "root_not_after", keys.Root.NotAfter,
		"intermediate_not_after", keys.Intermediate.NotAfter)
	return c, nil
}

func (o *Options) defaults() error {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Organization == "" {
		o.Organization = DefaultOrganization
	}
	if o.DeviceCertLifetime == 0 {
		o.DeviceCertLifetime = DefaultDeviceCertLifetime
	}
	if o.ServerCertLifetime == 0 {
		o.ServerCertLifetime = DefaultServerCertLifetime
	}
	if o.CRLLifetime == 0 {
		o.CRLLifetime = DefaultCRLLifetime
	}
	for name, d := range map[string]time.Duration{
		"device certificate lifetime": o.DeviceCertLifetime,
		"server certificate lifetime": o.ServerCertLifetime,
		"CRL lifetime":                o.CRLLifetime,
	} {
		if d < 5*time.Minute || d > 366*24*time.Hour {
			return fmt.Errorf("ca: %s %s is out of range (5m to 366 days)", name, d)
		}
	}
	if o.CRLURL == "" {
		o.CRLURL = DefaultCRLURL
	}
	if u, err := url.Parse(o.CRLURL); err != nil || !u.IsAbs() {
		return fmt.Errorf("ca: CRL URL %q is not an absolute URL", o.CRLURL)
	}
	return nil
}

// loadOrCreate returns the stored CA, creating it if none exists. When
// another replica wins the creation race, its CA is loaded instead.
func loadOrCreate(ctx context.Context, opts Options) (*Keys, error) {
	keys, err := opts.Keys.Load(ctx)
	if err == nil {
		return keys, nil
	}
	if !errors.Is(err, ErrNoKeys) {
		return nil, err
	}
	keys, err = generateKeys(opts.Organization, opts.Clock())
	if err != nil {
		return nil, fmt.Errorf("ca: generate CA keys: %w", err)
	}
	err = opts.Keys.Create(ctx, keys)
	switch {
	case err == nil:
		opts.Log.Info("ca: created a new root and intermediate")
		return keys, nil
	case errors.Is(err, ErrKeysExist):
		opts.Log.Info("ca: another process created the CA first; loading it")
		keys, err := opts.Keys.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("ca: load the CA another process created: %w", err)
		}
		return keys, nil
	default:
		return nil, err
	}
}

// Close stops the authority's background work (CRL refresh). The store is
// not closed. Calling Close again does nothing.
func (c *CA) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.auth.Shutdown() })
	return c.closeErr
}

// Roots returns the root certificates devices and browsers should trust.
func (c *CA) Roots() []*x509.Certificate { return []*x509.Certificate{c.root} }

// Intermediate returns the certificate that signs device certificates.
func (c *CA) Intermediate() *x509.Certificate { return c.inter }

// RootsPEM returns Roots PEM-encoded, as served at /ca/roots.pem.
func (c *CA) RootsPEM() []byte { return append([]byte(nil), c.rootsPEM...) }

// Fingerprint is the SHA-256 of the root certificate's DER in lower-case
// hex, as `step certificate fingerprint` prints it.
func (c *CA) Fingerprint() string { return c.fingerprint }

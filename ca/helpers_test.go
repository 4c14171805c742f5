package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"github.com/portier/portier/clocktest"
	"log/slog"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
)

type fakeClock = clocktest.Clock

func newClock() *fakeClock { return clocktest.New() }

// openStore opens a real store on boltstore in dir; closed at cleanup.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	be, err := boltstore.Open(filepath.Join(dir, "portier.db"))
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	st, err := store.Open(context.Background(), be, slog.New(slog.DiscardHandler))
	if err != nil {
		be.Close()
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		be.Close()
	})
	return st
}

// env is one CA on a fresh data dir.
type env struct {
	dir   string
	st    *store.Store
	clock *fakeClock
	ca    *ca.CA
}

func newEnv(t testing.TB, mod func(*ca.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, st: openStore(t, dir), clock: newClock()}
	opts := ca.Options{
		Store: e.st,
		Keys:  &ca.FileKeyStore{Dir: filepath.Join(dir, "ca")},
		Clock: e.clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := ca.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("ca.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	e.ca = c
	return e
}

// newCSR makes a certificate request signed by key.
func newCSR(t testing.TB, key crypto.Signer, tpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	if tpl == nil {
		tpl = &x509.CertificateRequest{}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("ParseCertificateRequest: %v", err)
	}
	return csr
}

func p256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// deviceCSR is what the agent sends: a P-256 key, CN and URI naming the device.
func deviceCSR(t testing.TB, deviceID string) (*ecdsa.PrivateKey, *x509.CertificateRequest) {
	t.Helper()
	k := p256(t)
	u, _ := url.Parse(ca.DeviceURI(deviceID))
	return k, newCSR(t, k, &x509.CertificateRequest{Subject: pkix.Name{CommonName: deviceID}, URIs: []*url.URL{u}})
}

// issue issues a device certificate or fails the test.
func (e *env) issue(t testing.TB, deviceID string) []*x509.Certificate {
	t.Helper()
	_, csr := deviceCSR(t, deviceID)
	chain, err := e.ca.IssueDevice(context.Background(), csr, deviceID, ca.KeyInfo{})
	if err != nil {
		t.Fatalf("IssueDevice: %v", err)
	}
	return chain
}

func (e *env) verifyOpts() x509.VerifyOptions {
	roots := x509.NewCertPool()
	for _, r := range e.ca.Roots() {
		roots.AddCert(r)
	}
	inter := x509.NewCertPool()
	inter.AddCert(e.ca.Intermediate())
	return x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: e.clock.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

// countCerts counts the certificate records in the store.
func countCerts(t testing.TB, e *env) int {
	t.Helper()
	it, err := e.st.Txn().Get(string(store.KindCertificate), "id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n
}

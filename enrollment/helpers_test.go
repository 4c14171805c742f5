package enrollment

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/clocktest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

type fakeClock = clocktest.Clock

func newClock() *fakeClock { return clocktest.New() }

// env is a Service on a real store, a real CA and the real posture engine.
type env struct {
	st    *store.Store
	ca    *ca.CA
	clock *fakeClock
	svc   *Service
	eng   *posture.Engine
}

var admin = Actor{ID: "token:test", RemoteIP: "192.0.2.1"}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, storetest.OpenBolt(t), mod)
}

// newEnvOn is newEnv on a store the test opened.
func newEnvOn(t testing.TB, st *store.Store, mod func(*Options)) *env {
	t.Helper()
	e := &env{st: st, clock: newClock()}
	c, err := ca.New(context.Background(), ca.Options{Store: e.st, Keys: &ca.FileKeyStore{Dir: filepath.Join(t.TempDir(), "ca")},
		Clock: e.clock.Now, CRLURL: "https://portier.example/ca/crl"})
	if err != nil {
		t.Fatalf("ca.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	e.ca = c
	opts := Options{Store: e.st, CA: c, Clock: e.clock.Now, ExternalURL: "https://portier.example"}
	if mod != nil {
		mod(&opts)
	}
	if e.svc, err = New(opts); err != nil {
		t.Fatal(err)
	}
	if opts.Posture == nil {
		if e.eng, err = posture.New(posture.Options{Store: e.st, Clock: e.clock.Now, Actions: e.svc}); err != nil {
			t.Fatal(err)
		}
		e.svc.SetPosture(e.eng)
	}
	return e
}

// csrPEM makes a PEM CSR for key with an optional template.
func csrPEM(t testing.TB, key crypto.Signer, tpl *x509.CertificateRequest) string {
	t.Helper()
	if tpl == nil {
		tpl = &x509.CertificateRequest{}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func p256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// code issues a one-time code of ownership o.
func (e *env) code(t testing.TB, o store.Ownership) string {
	t.Helper()
	ic, err := e.svc.CreateCode(context.Background(), admin, CodeRequest{Ownership: o})
	if err != nil {
		t.Fatal(err)
	}
	return ic.Code
}

// enroll enrolls a device with code and a fresh key.
func (e *env) enroll(t testing.TB, code string, info agentwire.DeviceInfo) (*Enrolled, *ecdsa.PrivateKey, error) {
	t.Helper()
	k := p256(t)
	if info.Platform == "" {
		info.Platform = "linux"
	}
	res, err := e.svc.Enroll(context.Background(), agentwire.EnrollRequest{Code: code, CSR: csrPEM(t, k, nil), Device: info}, "192.0.2.10")
	return res, k, err
}

// mustEnroll enrolls a corporate device or fails.
func (e *env) mustEnroll(t testing.TB, o store.Ownership, info agentwire.DeviceInfo) *Enrolled {
	t.Helper()
	if o == store.OwnershipBYOD {
		info.WorkProfile = true
	}
	res, _, err := e.enroll(t, e.code(t, o), info)
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return res
}

// wantErr checks err is a client error with code and message part.
func wantErr(t testing.TB, err error, code apperr.Code, part string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an apperr %s containing %q", err, code, part)
	}
	if ae.Code != code || !strings.Contains(ae.Msg, part) {
		t.Fatalf("err = %s %q (field %q), want %s containing %q", ae.Code, ae.Msg, ae.Field, code, part)
	}
}

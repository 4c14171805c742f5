package ca_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// parseCRL parses a DER CRL and checks its signature against the intermediate.
func (e *env) parseCRL(t *testing.T, der []byte) *x509.RevocationList {
	t.Helper()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	if err := crl.CheckSignatureFrom(e.ca.Intermediate()); err != nil {
		t.Fatalf("CRL signature does not verify with the intermediate: %v", err)
	}
	return crl
}

func crlHas(crl *x509.RevocationList, serial *big.Int) (x509.RevocationListEntry, bool) {
	for _, en := range crl.RevokedCertificateEntries {
		if en.SerialNumber.Cmp(serial) == 0 {
			return en, true
		}
	}
	return x509.RevocationListEntry{}, false
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	leaf := e.issue(t, "dev-1")[0]
	keep := e.issue(t, "dev-2")[0]
	serial := leaf.SerialNumber.String()

	before, err := e.ca.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if crl := e.parseCRL(t, before); len(crl.RevokedCertificateEntries) != 0 {
		t.Fatalf("fresh CRL lists %d entries", len(crl.RevokedCertificateEntries))
	}
	again, _ := e.ca.CRL(ctx)
	if !bytes.Equal(before, again) {
		t.Error("CRL regenerated without a change")
	}

	if e.ca.IsRevoked(serial) {
		t.Fatal("revoked before Revoke")
	}
	if err := e.ca.Revoke(ctx, serial, ca.ReasonKeyCompromise, "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	if !e.ca.IsRevoked(serial) || !e.st.IsRevoked(serial) {
		t.Fatal("IsRevoked is false right after Revoke")
	}
	if e.ca.IsRevoked(keep.SerialNumber.String()) {
		t.Error("an unrelated certificate is revoked")
	}
	rev, _ := e.st.Revocation(serial)
	if rev.ReasonCode != ca.ReasonKeyCompromise || rev.Reason != "laptop stolen" ||
		!rev.RevokedAt.Equal(e.clock.Now().UTC()) || !rev.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("revocation record = %+v", rev)
	}

	der, err := e.ca.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	crl := e.parseCRL(t, der)
	en, ok := crlHas(crl, leaf.SerialNumber)
	if !ok {
		t.Fatal("revoked serial is not in the CRL")
	}
	if en.ReasonCode != ca.ReasonKeyCompromise {
		t.Errorf("CRL reason = %d", en.ReasonCode)
	}
	if _, ok := crlHas(crl, keep.SerialNumber); ok {
		t.Error("unrevoked serial is in the CRL")
	}
	if crl.NextUpdate.Sub(crl.ThisUpdate) != ca.DefaultCRLLifetime {
		t.Errorf("CRL validity = %v, want %v", crl.NextUpdate.Sub(crl.ThisUpdate), ca.DefaultCRLLifetime)
	}
	if crl.Number == nil || crl.Number.Sign() <= 0 {
		t.Errorf("CRL number = %v, want it to grow", crl.Number)
	}

	if err := e.ca.Revoke(ctx, serial, ca.ReasonSuperseded, "again"); err != nil {
		t.Errorf("second Revoke = %v, want nil", err)
	}
	if rev, _ := e.st.Revocation(serial); rev.Reason != "laptop stolen" {
		t.Error("second Revoke replaced the first")
	}
}

func TestRevokeRefusals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	leaf := e.issue(t, "dev-1")[0]
	for _, s := range []string{"", "abc", "-5", "0", "0012"} {
		if err := e.ca.Revoke(ctx, s, 0, ""); !errors.Is(err, ca.ErrUnknownCertificate) {
			t.Errorf("Revoke(%q) = %v, want ErrUnknownCertificate", s, err)
		}
	}
	if err := e.ca.Revoke(ctx, "123456789", 0, ""); !errors.Is(err, ca.ErrUnknownCertificate) {
		t.Errorf("Revoke(unknown) = %v", err)
	}
	for _, code := range []int{-1, 6, 7, 8, 11} {
		if err := e.ca.Revoke(ctx, leaf.SerialNumber.String(), code, ""); err == nil {
			t.Errorf("reason code %d accepted", code)
		}
	}
}

// A revocation that arrives through the store (made by another replica)
// must reach this replica's CRL without anyone calling Revoke here.
func TestCRLFollowsStore(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	leaf := e.issue(t, "dev-1")[0]
	first, err := e.ca.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Write(ctx, store.Create(&store.Revocation{
		ID: leaf.SerialNumber.String(), ReasonCode: ca.ReasonCessationOfOperation,
		RevokedAt: e.clock.Now(), NotAfter: leaf.NotAfter,
	}))
	if err != nil {
		t.Fatal(err)
	}
	der, err := e.ca.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(der, first) {
		t.Fatal("CRL not regenerated after a revocation arrived through the store")
	}
	if _, ok := crlHas(e.parseCRL(t, der), leaf.SerialNumber); !ok {
		t.Error("serial revoked through the store is not in the CRL")
	}
	// Near nextUpdate the CRL is refreshed even without changes.
	e.clock.Advance(20 * time.Hour)
	if later, _ := e.ca.CRL(ctx); bytes.Equal(later, der) {
		t.Error("CRL not refreshed when two thirds of its lifetime had passed")
	}
}

func TestHandlers(t *testing.T) {
	e := newEnv(t, nil)
	leaf := e.issue(t, "dev-1")[0]
	e.ca.Revoke(context.Background(), leaf.SerialNumber.String(), 0, "")

	rec := httptest.NewRecorder()
	e.ca.RootsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/ca/roots.pem", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-pem-file" || !bytes.Equal(rec.Body.Bytes(), e.ca.RootsPEM()) {
		t.Errorf("roots: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}

	rec = httptest.NewRecorder()
	e.ca.CRLHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/ca/crl", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("crl: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if _, ok := crlHas(e.parseCRL(t, rec.Body.Bytes()), leaf.SerialNumber); !ok {
		t.Error("served CRL misses the revoked serial")
	}

	for _, h := range []http.Handler{e.ca.RootsHandler(), e.ca.CRLHandler()} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d, want 405", rec.Code)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("HEAD", "/", nil))
		if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
			t.Errorf("HEAD: %d, body %d bytes", rec.Code, rec.Body.Len())
		}
	}
}

// TestRevokeOp: the op a caller commits in its own write records what
// Revoke records, the next CRL lists it, and a revoked serial yields no op.
func TestRevokeOp(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	leaf := e.issue(t, "dev-1")[0]
	serial := leaf.SerialNumber.String()
	if _, _, err := e.ca.RevokeOp(serial, 6, "hold"); err == nil {
		t.Error("certificateHold accepted")
	}
	if _, _, err := e.ca.RevokeOp("123456789", ca.ReasonKeyCompromise, "x"); !errors.Is(err, ca.ErrUnknownCertificate) {
		t.Errorf("unknown serial: %v", err)
	}
	op, ok, err := e.ca.RevokeOp(serial, ca.ReasonCessationOfOperation, "device wiped")
	if err != nil || !ok {
		t.Fatalf("RevokeOp: %v %v", ok, err)
	}
	if e.ca.IsRevoked(serial) {
		t.Fatal("revoked before the op was committed")
	}
	if err := e.st.Write(ctx, op); err != nil {
		t.Fatal(err)
	}
	rev, _ := e.st.Revocation(serial)
	if !e.ca.IsRevoked(serial) || rev.ReasonCode != ca.ReasonCessationOfOperation || rev.Reason != "device wiped" ||
		!rev.RevokedAt.Equal(e.clock.Now().UTC()) || !rev.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("revocation record = %+v", rev)
	}
	der, err := e.ca.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := crlHas(e.parseCRL(t, der), leaf.SerialNumber); !ok {
		t.Error("the CRL does not list the revocation")
	}
	if _, ok, err := e.ca.RevokeOp(serial, ca.ReasonKeyCompromise, "again"); ok || err != nil {
		t.Errorf("revoked serial: op %v, %v", ok, err)
	}
}

package enrollment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// attestedEnroll runs the agent's whole attested enrollment with code.
func attestedEnroll(t *testing.T, e *env, a *tpmAgent, code string) (*Enrolled, error) {
	t.Helper()
	defer a.flush()
	ctx := context.Background()
	ak := a.newAK()
	ch, err := challengeForCode(t, e.svc, a.challengeRequest(code, ak), "192.0.2.10")
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	key, signer := a.newKey(ak)
	return e.svc.Enroll(ctx, agentwire.EnrollRequest{Code: code, CSR: csrPEM(t, signer, nil),
		Device:      agentwire.DeviceInfo{Platform: "linux", KeyProtection: "hardware"},
		Attestation: attestation(ch.ID, a.activate(ak, ch), key)}, "192.0.2.10")
}

// TestAttestedEnrollmentTrustedEK: a TPM whose EK certificate chains to a
// configured manufacturer root enrolls with a tpm_attested certificate,
// the device says so, and the history and audit say why.
func TestAttestedEnrollmentTrustedEK(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
	a := newTPMAgent(t, m)
	res, err := attestedEnroll(t, e, a, e.code(t, store.OwnershipCorporate))
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if k := ca.KeyInfoFromCert(res.Chain[0]); !k.Attested() || k.Purpose != ca.PurposeAgent {
		t.Fatalf("certificate key info = %+v, want hardware tpm_attested agent", k)
	}
	d, _ := e.st.Device(res.Device.ID)
	if d.KeyProtection != store.KeyHardware || d.KeyProtectionSource != store.KeySourceTPM {
		t.Fatalf("device key = %s/%s, want hardware/tpm_attested", d.KeyProtection, d.KeyProtectionSource)
	}
	rec, _ := e.st.Certificate(d.CertSerial)
	if rec.KeyProtectionSource != store.KeySourceTPM {
		t.Fatalf("certificate record source = %q", rec.KeyProtectionSource)
	}
	evs := e.st.DeviceEvents(d.ID)
	if len(evs) == 0 || evs[0].Detail["key_attestation"] != "tpm2" || !strings.Contains(evs[0].Detail["ek_trust"], "chains to a configured") {
		t.Fatalf("enrolled event detail = %v", evs[0].Detail)
	}
	found := false
	for _, ev := range e.st.Audit() {
		if ev.Action == "device.enroll" && ev.Target == d.ID && ev.Detail["key_protection_source"] == store.KeySourceTPM && ev.Detail["ek_trust"] != "" {
			found = true
		}
	}
	if !found {
		t.Fatal("no audit entry of the attested enrollment")
	}
}

// TestAttestedEnrollmentUntrustedEK: a real TPM whose endorsement key
// Portier cannot trust still proves its key is in that TPM, but the
// source stays the agent's claim, with the reason recorded.
func TestAttestedEnrollmentUntrustedEK(t *testing.T) {
	trusted := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	other := tpmtest.NewManufacturer(t, "Unknown TPM Vendor")
	for _, tc := range []struct {
		name   string
		roots  *tpmtest.Manufacturer
		signer *tpmtest.Manufacturer
		reason string
	}{
		{"no EK certificate", trusted, nil, "sent no endorsement key certificate"},
		{"EK certificate of another manufacturer", trusted, other, "not trusted"},
		{"no roots configured", nil, trusted, "no TPM manufacturer roots are configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) {
				if tc.roots != nil {
					o.EKRoots = rootsOf(t, tc.roots)
				}
			})
			a := newTPMAgent(t, tc.signer)
			res, err := attestedEnroll(t, e, a, e.code(t, store.OwnershipCorporate))
			if err != nil {
				t.Fatalf("enroll: %v", err)
			}
			k := ca.KeyInfoFromCert(res.Chain[0])
			if k.Protection != store.KeyHardware || k.Source != store.KeySourceAgent {
				t.Fatalf("key info = %+v, want hardware agent_claim", k)
			}
			if res.Device.KeyProtectionSource != store.KeySourceAgent {
				t.Fatalf("device source = %q", res.Device.KeyProtectionSource)
			}
			if r := e.st.DeviceEvents(res.Device.ID)[0].Detail["ek_trust"]; !strings.Contains(r, tc.reason) {
				t.Fatalf("ek_trust = %q, want %q", r, tc.reason)
			}
		})
	}
}

// TestAttestationRefused: every way of faking or reusing an attestation
// is refused with the field at fault, and no certificate is issued.
func TestAttestationRefused(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
	a := newTPMAgent(t, m)
	ctx := context.Background()
	tok, err := e.svc.CreateToken(ctx, admin, TokenRequest{Name: "lab", MaxUses: 20, Ownership: store.OwnershipCorporate})
	if err != nil {
		t.Fatal(err)
	}
	code := tok.Code
	// open is a fresh challenge for a fresh AK.
	open := func(code string) (*attest.AK, agentwire.AttestChallenge) {
		ak := a.newAK()
		ch, err := challengeForCode(t, e.svc, a.challengeRequest(code, ak), "192.0.2.10")
		if err != nil {
			t.Fatalf("challenge: %v", err)
		}
		return ak, ch
	}
	enroll := func(csr string, att *agentwire.KeyAttestation, code string) error {
		_, err := e.svc.Enroll(ctx, agentwire.EnrollRequest{Code: code, CSR: csr,
			Device: agentwire.DeviceInfo{Platform: "linux", KeyProtection: "hardware"}, Attestation: att}, "192.0.2.10")
		return err
	}
	refused := func(t *testing.T, err error, field, part string) {
		t.Helper()
		var ae *apperr.Error
		if err == nil || !errors.As(err, &ae) || ae.Field != field || !strings.Contains(ae.Msg, part) || apperr.Status(err) != 400 {
			t.Fatalf("err = %v, want 400 on %s containing %q", err, field, part)
		}
	}

	t.Run("replayed challenge", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, signer := a.newKey(ak)
		att := attestation(ch.ID, a.activate(ak, ch), key)
		if err := enroll(csrPEM(t, signer, nil), att, code); err != nil {
			t.Fatalf("first use: %v", err)
		}
		before := certCount(e.st)
		refused(t, enroll(csrPEM(t, signer, nil), att, code), "attestation.challenge_id", "already used")
		if certCount(e.st) != before {
			t.Fatal("a certificate was issued for a replayed challenge")
		}
	})
	t.Run("expired challenge", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, signer := a.newKey(ak)
		att := attestation(ch.ID, a.activate(ak, ch), key)
		e.clock.Advance(AttestChallengeTTL)
		defer e.clock.Advance(-AttestChallengeTTL)
		refused(t, enroll(csrPEM(t, signer, nil), att, code), "attestation.challenge_id", "expired")
	})
	t.Run("wrong secret", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, signer := a.newKey(ak)
		secret := a.activate(ak, ch)
		secret[0] ^= 1
		refused(t, enroll(csrPEM(t, signer, nil), attestation(ch.ID, secret, key), code), "attestation.activated", "not the challenge's secret")
	})
	t.Run("challenge of another code", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, signer := a.newKey(ak)
		att := attestation(ch.ID, a.activate(ak, ch), key)
		refused(t, enroll(csrPEM(t, signer, nil), att, e.code(t, store.OwnershipCorporate)), "attestation.challenge_id", "names no challenge")
	})
	t.Run("unknown challenge", func(t *testing.T) {
		defer a.flush()
		ak, _ := open(code)
		key, signer := a.newKey(ak)
		refused(t, enroll(csrPEM(t, signer, nil), attestation("atc_nope", []byte("x"), key), code), "attestation.challenge_id", "names no challenge")
	})
	t.Run("key certified by another AK", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		secret := a.activate(ak, ch)
		a.flush()
		key, signer := a.newKey(a.newAK())
		refused(t, enroll(csrPEM(t, signer, nil), attestation(ch.ID, secret, key), code), "attestation.key", "did not certify")
	})
	t.Run("CSR for another key", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, _ := a.newKey(ak)
		refused(t, enroll(csrPEM(t, p256(t), nil), attestation(ch.ID, a.activate(ak, ch), key), code), "attestation.key", "another key than the CSR's")
	})
	t.Run("software key with forged certify info", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, _ := a.newKey(ak)
		soft := p256(t)
		att := attestation(ch.ID, a.activate(ak, ch), key)
		att.Key.Public = forgedPublic(t, soft, key)
		refused(t, enroll(csrPEM(t, soft, nil), att, code), "attestation.key", "did not certify")
	})
	t.Run("wrong format", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, signer := a.newKey(ak)
		att := attestation(ch.ID, a.activate(ak, ch), key)
		att.Format = "tpm12"
		refused(t, enroll(csrPEM(t, signer, nil), att, code), "attestation.format", "tpm2")
	})
	t.Run("a refused attestation leaves its challenge usable", func(t *testing.T) {
		defer a.flush()
		ak, ch := open(code)
		key, signer := a.newKey(ak)
		secret := a.activate(ak, ch)
		refused(t, enroll(csrPEM(t, p256(t), nil), attestation(ch.ID, secret, key), code), "attestation.key", "another key")
		if err := enroll(csrPEM(t, signer, nil), attestation(ch.ID, secret, key), code); err != nil {
			t.Fatalf("the right answer after a wrong one: %v", err)
		}
	})
}

// forgedPublic is the TPM public area of a software key, with the
// attributes of the TPM key it pretends to be.
func forgedPublic(t *testing.T, soft *ecdsa.PrivateKey, real *attest.Key) []byte {
	t.Helper()
	pub, err := tpm2.DecodePublic(real.CertificationParameters().Public)
	if err != nil {
		t.Fatal(err)
	}
	pub.ECCParameters.Point = tpm2.ECPoint{XRaw: soft.X.FillBytes(make([]byte, 32)), YRaw: soft.Y.FillBytes(make([]byte, 32))}
	b, err := pub.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttestChallengeGuards: no usable code, nothing written; a bounded
// number of open challenges; an AK that is not a restricted TPM key is
// refused before any secret is made.
func TestAttestChallengeGuards(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
	a := newTPMAgent(t, m)
	ctx := context.Background()
	ak := a.newAK()

	_, err := challengeForCode(t, e.svc, a.challengeRequest("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", ak), "192.0.2.20")
	if apperr.Status(err) != 401 {
		t.Fatalf("unknown code: %v, want 401", err)
	}
	if n := len(e.st.AttestChallenges()); n != 0 {
		t.Fatalf("%d challenges written for an unknown code", n)
	}

	code := e.code(t, store.OwnershipCorporate)
	for i := 0; i < maxOpenChallenges; i++ {
		if _, err := challengeForCode(t, e.svc, a.challengeRequest(code, ak), "192.0.2.21"); err != nil {
			t.Fatalf("challenge %d: %v", i, err)
		}
	}
	_, err = challengeForCode(t, e.svc, a.challengeRequest(code, ak), "192.0.2.21")
	if apperr.Status(err) != 429 {
		t.Fatalf("challenge beyond the bound: %v, want 429", err)
	}
	e.clock.Advance(AttestChallengeTTL)
	if _, err := challengeForCode(t, e.svc, a.challengeRequest(code, ak), "192.0.2.21"); err != nil {
		t.Fatalf("after the open ones expired: %v", err)
	}
	// The code is not used up by challenges.
	if _, _, err := e.svc.usableCode(code, e.clock.Now()); err != nil {
		t.Fatalf("code after challenges: %v", err)
	}

	// An AK whose attributes were changed: its creation no longer matches.
	req := a.challengeRequest(code, a.newAK())
	pub, err := tpm2.DecodePublic(req.AK.Public)
	if err != nil {
		t.Fatal(err)
	}
	pub.Attributes &^= tpm2.FlagRestricted
	if req.AK.Public, err = pub.Encode(); err != nil {
		t.Fatal(err)
	}
	_, err = challengeForCode(t, e.svc, req, "192.0.2.22")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field != "ak" {
		t.Fatalf("modified AK: %v, want a 400 on ak", err)
	}

	// Sweep: expired challenges go, with nothing else.
	e.clock.Advance(AttestChallengeTTL)
	n, err := e.svc.SweepAttestChallenges(ctx)
	if err != nil || n != maxOpenChallenges+1 || len(e.st.AttestChallenges()) != 0 {
		t.Fatalf("sweep = %d, %v; %d left", n, err, len(e.st.AttestChallenges()))
	}
}

// TestAttestedRenewal: an enrolled device moves to a TPM key at renewal,
// with a challenge asked with its certificate; a challenge given to a code
// does not serve a device.
func TestAttestedRenewal(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
	a := newTPMAgent(t, m)
	ctx := context.Background()
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{KeyProtection: "software"})
	d, _ := e.st.Device(res.Device.ID)

	if _, err := e.svc.AttestChallengeForDevice(ctx, d, a.challengeRequest("SOME-CODE", a.newAK())); err == nil {
		t.Fatal("a device challenge with a code was accepted")
	}
	a.flush()
	ak := a.newAK()
	ch, err := e.svc.AttestChallengeForDevice(ctx, d, a.challengeRequest("", ak))
	if err != nil {
		t.Fatal(err)
	}
	key, signer := a.newKey(ak)
	att := attestation(ch.ID, a.activate(ak, ch), key)
	if _, err := e.svc.Renew(ctx, d, res.Chain[0], agentwire.RenewRequest{Attestation: att}); err == nil || !strings.Contains(err.Error(), "CSR") {
		t.Fatalf("attestation without a CSR: %v", err)
	}
	chain, err := e.svc.Renew(ctx, d, res.Chain[0], agentwire.RenewRequest{CSR: csrPEM(t, signer, nil), Attestation: att})
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if !ca.KeyInfoFromCert(chain[0]).Attested() {
		t.Fatalf("renewed key info = %+v", ca.KeyInfoFromCert(chain[0]))
	}
	d, _ = e.st.Device(d.ID)
	if d.KeyProtectionSource != store.KeySourceTPM || d.CertSerial != chain[0].SerialNumber.String() {
		t.Fatalf("device after renewal: %s/%s %s", d.KeyProtection, d.KeyProtectionSource, d.CertSerial)
	}
	audited := false
	for _, ev := range e.st.Audit() {
		audited = audited || (ev.Action == "device.key_attested" && ev.Target == d.ID && ev.Detail["key_protection_source"] == store.KeySourceTPM)
	}
	if !audited {
		t.Fatal("no audit entry of the attested renewal")
	}
	if _, err := e.svc.Renew(ctx, d, chain[0], agentwire.RenewRequest{CSR: csrPEM(t, signer, nil), Attestation: att}); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed renewal attestation: %v", err)
	}

	// A code's challenge does not serve a renewal.
	a.flush()
	ak2 := a.newAK()
	ch2, err := challengeForCode(t, e.svc, a.challengeRequest(e.code(t, store.OwnershipCorporate), ak2), "192.0.2.30")
	if err != nil {
		t.Fatal(err)
	}
	key2, signer2 := a.newKey(ak2)
	_, err = e.svc.Renew(ctx, d, chain[0], agentwire.RenewRequest{CSR: csrPEM(t, signer2, nil), Attestation: attestation(ch2.ID, a.activate(ak2, ch2), key2)})
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field != "attestation.challenge_id" {
		t.Fatalf("renewal with a code's challenge: %v", err)
	}
}

// TestParseEKRoots: the roots file's problems are named.
func TestParseEKRoots(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "V")
	good := rootsOf(t, m)
	if good.Len() != 1 {
		t.Fatalf("Len = %d", good.Len())
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no PEM CERTIFICATE"},
		{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", `"PRIVATE KEY"`},
		{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM block 1"},
	} {
		if _, err := ParseEKRoots([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseEKRoots(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := LoadEKRoots("/nonexistent/roots.pem"); err == nil || !strings.Contains(err.Error(), "tpm_ek_roots") {
		t.Errorf("missing file: %v", err)
	}
}

// TestJudgeEK covers the EK certificate rules without a TPM: the TCG EK
// extended key usage or none; other usages refused; expiry counts.
func TestJudgeEK(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "V")
	roots := rootsOf(t, m)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(mod func(*x509.Certificate)) *x509.Certificate {
		return signedEK(t, m, &k.PublicKey, mod)
	}
	now := time.Now()
	if v := judgeEK(mk(nil), roots, now); v.source != store.KeySourceTPM {
		t.Fatalf("plain EK cert: %+v", v)
	}
	if v := judgeEK(mk(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), roots, now); v.source != store.KeySourceAgent {
		t.Fatalf("server-auth EKU accepted: %+v", v)
	}
	if v := judgeEK(mk(nil), roots, now.Add(48*time.Hour)); v.source != store.KeySourceAgent || !strings.Contains(v.reason, "expired") {
		t.Fatalf("expired EK cert: %+v", v)
	}
}

// signedEK is an EK certificate for pub signed by m, as tpmtest makes
// them, changed by mod.
func signedEK(t *testing.T, m *tpmtest.Manufacturer, pub any, mod func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageKeyEncipherment, UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidTCGKpEKCertificate}}
	if mod != nil {
		mod(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.Cert, pub, m.Key)
	if err != nil {
		t.Fatal(err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return crt
}

// TestBrowserCertificateHardwareOnlyAttested: a browser key lives in a
// person's store, so "hardware" in the request is not taken on the
// agent's word: without an attestation the certificate says software
// (the claim is kept in the history); with a TPM attestation answered by
// this device it says hardware, tpm_attested; the challenge serves once,
// and another device's challenge does not serve.
func TestBrowserCertificateHardwareOnlyAttested(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
	a := newTPMAgent(t, m)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	other := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device

	claimed := agentwire.BrowserCertificateRequest{CSR: csrPEM(t, p256(t), nil), Person: "ada", KeyProtection: "hardware"}
	bc, err := e.svc.IssueBrowserCertificate(ctx, d, claimed)
	if err != nil {
		t.Fatal(err)
	}
	if k := ca.KeyInfoFromCert(bc.Chain[0]); k.Hardware() {
		t.Fatalf("a claimed browser key was certified as %+v", k)
	}
	var ev *store.DeviceEvent
	for _, x := range e.st.DeviceEvents(d.ID) {
		if x.Type == "browser_certificate_issued" {
			ev = x
		}
	}
	if ev == nil || ev.Detail["key_protection_claimed"] != "hardware" || ev.Detail["key_protection"] != "software" {
		t.Fatalf("the history does not show the claim and the decision: %+v", ev)
	}

	ak := a.newAK()
	ch, err := e.svc.AttestChallengeForDevice(ctx, d, a.challengeRequest("", ak))
	if err != nil {
		t.Fatal(err)
	}
	key, signer := a.newKey(ak)
	att := attestation(ch.ID, a.activate(ak, ch), key)
	req := agentwire.BrowserCertificateRequest{CSR: csrPEM(t, signer, nil), Person: "ada", KeyProtection: "hardware", Attestation: att}
	if _, err := e.svc.IssueBrowserCertificate(ctx, other, req); err == nil || !strings.Contains(err.Error(), "challenge") {
		t.Fatalf("another device used this device's challenge: %v", err)
	}
	bc, err = e.svc.IssueBrowserCertificate(ctx, d, req)
	if err != nil {
		t.Fatal(err)
	}
	if k := ca.KeyInfoFromCert(bc.Chain[0]); !k.Attested() || k.Purpose != ca.PurposeBrowser || k.Person != "ada" {
		t.Fatalf("attested browser key info = %+v", k)
	}
	if _, err := e.svc.IssueBrowserCertificate(ctx, d, req); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed browser attestation: %v", err)
	}
	req.CSR = csrPEM(t, p256(t), nil) // a software key with the TPM key's attestation
	a.flush()
	ak2 := a.newAK()
	ch2, err := e.svc.AttestChallengeForDevice(ctx, d, a.challengeRequest("", ak2))
	if err != nil {
		t.Fatal(err)
	}
	key2, _ := a.newKey(ak2)
	req.Attestation = attestation(ch2.ID, a.activate(ak2, ch2), key2)
	var ae *apperr.Error
	if _, err := e.svc.IssueBrowserCertificate(ctx, d, req); !errors.As(err, &ae) || ae.Field != "attestation.key" {
		t.Fatalf("a software key passed with a TPM key's attestation: %v", err)
	}
}

// TestTPMDeviceRekeysOnlyInItsTPM: a device whose key a TPM attested
// keeps the TPM's endorsement key hash, and a renewal to a new key must be
// attested by that same TPM: a software key, or a key in another TPM,
// would carry the enrollment to another machine.
func TestTPMDeviceRekeysOnlyInItsTPM(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
	a := newTPMAgent(t, m)
	other := newTPMAgent(t, m)
	ctx := context.Background()
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{KeyProtection: "software"})
	d, _ := e.st.Device(res.Device.ID)
	renewWith := func(t *testing.T, ag *tpmAgent, leaf *x509.Certificate) ([]*x509.Certificate, error) {
		ag.flush()
		ak := ag.newAK()
		ch, err := e.svc.AttestChallengeForDevice(ctx, d, ag.challengeRequest("", ak))
		if err != nil {
			t.Fatal(err)
		}
		key, signer := ag.newKey(ak)
		return e.svc.Renew(ctx, d, leaf, agentwire.RenewRequest{CSR: csrPEM(t, signer, nil), Attestation: attestation(ch.ID, ag.activate(ak, ch), key)})
	}
	chain, err := renewWith(t, a, res.Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	d, _ = e.st.Device(d.ID)
	if d.TPMEKSHA256 == "" {
		t.Fatal("the attested renewal did not record the TPM's endorsement key")
	}
	if _, err := e.svc.Renew(ctx, d, chain[0], agentwire.RenewRequest{CSR: csrPEM(t, p256(t), nil), KeyProtection: "software"}); err == nil || !strings.Contains(err.Error(), "same TPM") {
		t.Fatalf("a move to a software key was accepted: %v", err)
	}
	if _, err := renewWith(t, other, chain[0]); err == nil || !strings.Contains(err.Error(), "same TPM") {
		t.Fatalf("a move to another TPM was accepted: %v", err)
	}
	if _, err := renewWith(t, a, chain[0]); err != nil {
		t.Fatalf("a new key in the same TPM was refused: %v", err)
	}
	if _, err := e.svc.Renew(ctx, d, chain[0], agentwire.RenewRequest{}); err != nil {
		t.Fatalf("a renewal for the same key was refused: %v", err)
	}
}

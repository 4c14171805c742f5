package enrollment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

func TestEnrollCreatesActiveDevice(t *testing.T) {
	e := newEnv(t, nil)
	code := e.code(t, store.OwnershipCorporate)
	e.clock.Advance(3 * time.Minute)
	res, key, err := e.enroll(t, code, agentwire.DeviceInfo{Serial: "PF3ABC12", Hostname: "ada-laptop", Platform: "linux",
		Model: "ThinkPad T14", OSVersion: "Debian 12", AgentVersion: "1.0.0", TimeZone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := e.st.Device(res.Device.ID)
	if !ok {
		t.Fatal("device not stored")
	}
	if d.State != store.DeviceActive || d.Ownership != store.OwnershipCorporate || d.Serial != "PF3ABC12" ||
		d.Hostname != "ada-laptop" || d.TimeZone != "Europe/Paris" || d.CertSerial != res.Chain[0].SerialNumber.String() {
		t.Errorf("device = %+v", d)
	}
	if !strings.HasPrefix(d.ID, "dev_") || d.EnrolledAt.IsZero() || d.ProvisionStart.After(d.EnrolledAt) {
		t.Errorf("device id/times = %s %s %s", d.ID, d.EnrolledAt, d.ProvisionStart)
	}
	leaf := res.Chain[0]
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) || leaf.Subject.CommonName != d.ID {
		t.Error("certificate is not for the device key and id")
	}
	if id, _, err := e.ca.VerifyClient(res.Chain, e.clock.Now()); err != nil || id != d.ID {
		t.Errorf("VerifyClient = %s %v", id, err)
	}
	if evs := e.st.DeviceEvents(d.ID); len(evs) != 1 || evs[0].Type != "enrolled" {
		t.Errorf("history = %+v", evs)
	}
	if _, err := e.svc.Authenticate(res.Chain); err != nil {
		t.Errorf("Authenticate: %v", err)
	}
}

func TestEnrollRefusesBadCodes(t *testing.T) {
	e := newEnv(t, nil)
	used := e.code(t, store.OwnershipCorporate)
	if _, _, err := e.enroll(t, used, agentwire.DeviceInfo{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.enroll(t, used, agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Forbidden, "already used")

	_, _, err = e.enroll(t, "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Unauthenticated, "not valid")
	_, _, err = e.enroll(t, "hello", agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Unauthenticated, "not valid")

	expired := e.code(t, store.OwnershipCorporate)
	e.clock.Advance(DefaultCodeTTL)
	_, _, err = e.enroll(t, expired, agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Forbidden, "expired")
	if n := len(e.st.Devices()); n != 1 {
		t.Errorf("%d devices, want 1", n)
	}
}

func TestEnrollRefusesBadCSRs(t *testing.T) {
	e := newEnv(t, nil)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k := p256(t)
	other := p256(t)
	u, _ := url.Parse("https://evil.example")
	mismatched := forgedCSR(t, k, other)
	for name, tc := range map[string]struct {
		csr  string
		part string
	}{
		"rsa1024":     {csrPEM(t, rsa1024, nil), "RSA (1024 bits)"},
		"rsa2048":     {csrPEM(t, rsa2048, nil), "must be ECDSA P-256"},
		"p224":        {csrPEM(t, p224, nil), "P-224"},
		"p384":        {csrPEM(t, p384, nil), "P-384"},
		"dns name":    {csrPEM(t, k, &x509.CertificateRequest{DNSNames: []string{"www.example.com"}}), "unexpected DNS name"},
		"email":       {csrPEM(t, k, &x509.CertificateRequest{EmailAddresses: []string{"a@b.c"}}), "unexpected email"},
		"uri":         {csrPEM(t, k, &x509.CertificateRequest{URIs: []*url.URL{u}}), "unexpected URI"},
		"common name": {csrPEM(t, k, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "admin"}}), "common name"},
		"mismatched":  {mismatched, "signature"},
		"not pem":     {"hello", "invalid certificate request"},
	} {
		t.Run(name, func(t *testing.T) {
			code := e.code(t, store.OwnershipCorporate)
			_, err := e.svc.Enroll(context.Background(), agentwire.EnrollRequest{Code: code, CSR: tc.csr}, "198.51.100."+name)
			wantErr(t, err, apperr.Invalid, tc.part)
			if ae := err.(*apperr.Error); ae.Field != "csr" {
				t.Errorf("field = %q", ae.Field)
			}
			if _, _, err := e.enroll(t, code, agentwire.DeviceInfo{}); err != nil {
				t.Errorf("the code was used up by a refused CSR: %v", err)
			}
		})
	}
}

func TestExpectedDeviceIsMatchedBySerial(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	csv := "serial,model,platform,owner_email,department,ownership,groups\n" +
		"pf3abc12,ThinkPad T14,linux,ada@example.com,Finance,cope,finance;laptops\n" +
		"C02XYZ,MacBook Air,macos,bob@example.com,Sales,corporate,\n"
	if _, err := e.svc.ImportExpected(ctx, admin, strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	imported := e.clock.Now()
	e.clock.Advance(2 * time.Hour)
	tok, err := e.svc.CreateToken(ctx, admin, TokenRequest{Name: "zero-touch", MaxUses: 10, ExpectedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.enroll(t, tok.Code, agentwire.DeviceInfo{Serial: "UNKNOWN1"})
	wantErr(t, err, apperr.Forbidden, "not in the expected-device list")
	_, _, err = e.enroll(t, tok.Code, agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Invalid, "serial")

	res, _, err := e.enroll(t, tok.Code, agentwire.DeviceInfo{Serial: "PF3ABC12", Hostname: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Device
	if d.OwnerEmail != "ada@example.com" || d.Department != "Finance" || d.Ownership != store.OwnershipCOPE ||
		strings.Join(d.Groups, ",") != "finance,laptops" || d.Model != "ThinkPad T14" || !d.ProvisionStart.Equal(imported.UTC()) {
		t.Errorf("device did not inherit the expected record: %+v", d)
	}
	if x, _ := e.st.ExpectedDevice("PF3ABC12"); x.EnrolledAs != d.ID {
		t.Errorf("expected device enrolled_as = %q", x.EnrolledAs)
	}
	_, _, err = e.enroll(t, tok.Code, agentwire.DeviceInfo{Serial: "PF3ABC12"})
	wantErr(t, err, apperr.Conflict, "already enrolled")
	if _, err := e.svc.Retire(ctx, admin, d.ID, "reinstalled"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.enroll(t, tok.Code, agentwire.DeviceInfo{Serial: "PF3ABC12"}); err != nil {
		t.Errorf("re-enrollment after retirement: %v", err)
	}
	k := e.svc.KPIs()
	if k.Expected != 2 || k.EnrolledOfThem != 1 || k.EnrollmentRate != 0.5 {
		t.Errorf("kpis = %+v", k)
	}
}

func TestBulkTokenNeverExceedsMaxUses(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.svc.CreateToken(context.Background(), admin, TokenRequest{Name: "race", MaxUses: 5})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.enroll(t, tok.Code, agentwire.DeviceInfo{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if ae, isApp := err.(*apperr.Error); isApp && (ae.Code == apperr.Forbidden || ae.Code == apperr.Unavailable) {
				refused++
			} else {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 5 || refused != 15 {
		t.Fatalf("%d enrolled, %d refused; want 5 and 15", ok, refused)
	}
	if n := e.svc.uses(mustCode(t, e, tok.Record.ID)); n != 5 {
		t.Errorf("uses = %d", n)
	}
	// Certificates issued to losers of the race are revoked.
	it, _ := e.st.Txn().Get(string(store.KindCertificate), "id")
	live := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if !e.st.IsRevoked(raw.(*store.Certificate).ID) {
			live++
		}
	}
	if live != 5 {
		t.Errorf("%d unrevoked certificates, want 5", live)
	}
}

// forgedCSR is a CSR carrying key's public key but signed by other: what
// a device without the private key would send.
func forgedCSR(t *testing.T, key, other *ecdsa.PrivateKey) string {
	t.Helper()
	blk, _ := pem.Decode([]byte(csrPEM(t, key, nil)))
	var c struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(blk.Bytes, &c); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(c.TBS.FullBytes)
	sig, err := ecdsa.SignASN1(rand.Reader, other, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	c.Sig = asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}
	der, err := asn1.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func mustCode(t *testing.T, e *env, id string) *store.EnrollCode {
	c, ok := e.st.EnrollCode(id)
	if !ok {
		t.Fatal("no code")
	}
	return c
}

func TestBYODNeedsWorkProfile(t *testing.T) {
	e := newEnv(t, nil)
	_, _, err := e.enroll(t, e.code(t, store.OwnershipBYOD), agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Invalid, "--work-profile")
	res, _, err := e.enroll(t, e.code(t, store.OwnershipBYOD), agentwire.DeviceInfo{WorkProfile: true})
	if err != nil || !res.Device.WorkProfile || res.Device.Ownership != store.OwnershipBYOD {
		t.Fatalf("byod enrollment: %+v %v", res, err)
	}
	prof, err := e.svc.Profile(res.Device)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range prof.Allowed {
		if s == "apps.installed" {
			t.Error("the BYOD profile allows the application inventory")
		}
	}
}

func TestEnrollRateLimitsFailures(t *testing.T) {
	e := newEnv(t, nil)
	var err error
	for range badEnrollBurst + 1 {
		_, err = e.svc.Enroll(context.Background(), agentwire.EnrollRequest{Code: "ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ", CSR: "x"}, "203.0.113.9")
	}
	wantErr(t, err, apperr.RateLimited, "too many")
	// Another address is not affected; time refills the bucket.
	code := e.code(t, store.OwnershipCorporate)
	if _, err := e.svc.Enroll(context.Background(), agentwire.EnrollRequest{Code: code, CSR: csrPEM(t, p256(t), nil)}, "203.0.113.10"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	code = e.code(t, store.OwnershipCorporate)
	if _, err := e.svc.Enroll(context.Background(), agentwire.EnrollRequest{Code: code, CSR: csrPEM(t, p256(t), nil)}, "203.0.113.9"); err != nil {
		t.Errorf("after a minute: %v", err)
	}
}

func TestRenewSameKeyAndRekey(t *testing.T) {
	e := newEnv(t, nil)
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	ctx := context.Background()
	chain, err := e.svc.Renew(ctx, res.Device, res.Chain[0], agentwire.RenewRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !chain[0].PublicKey.(*ecdsa.PublicKey).Equal(res.Chain[0].PublicKey) {
		t.Error("renewal changed the key")
	}
	d, _ := e.st.Device(res.Device.ID)
	if d.CertSerial != chain[0].SerialNumber.String() {
		t.Errorf("cert serial = %s", d.CertSerial)
	}
	k2 := p256(t)
	chain2, err := e.svc.Renew(ctx, d, chain[0], agentwire.RenewRequest{CSR: csrPEM(t, k2, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !chain2[0].PublicKey.(*ecdsa.PublicKey).Equal(&k2.PublicKey) {
		t.Error("rekey kept the old key")
	}
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, err = e.svc.Renew(ctx, d, chain2[0], agentwire.RenewRequest{CSR: csrPEM(t, rsa1024, nil)})
	wantErr(t, err, apperr.Invalid, "ECDSA P-256")
	// Retiring revokes every certificate the device ever got.
	if _, err := e.svc.Retire(ctx, admin, d.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]*x509.Certificate{res.Chain, chain, chain2} {
		if !e.st.IsRevoked(c[0].SerialNumber.String()) {
			t.Errorf("certificate %s not revoked", c[0].SerialNumber)
		}
		_, err := e.svc.Authenticate(c)
		wantErr(t, err, apperr.Unauthenticated, "revoked")
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.svc.Authenticate(nil)
	wantErr(t, err, apperr.Unauthenticated, "client certificate")
	other := newEnv(t, nil)
	foreign := other.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	_, err = e.svc.Authenticate(foreign.Chain)
	wantErr(t, err, apperr.Unauthenticated, "not issued by this Portier")

	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	e.clock.Advance(ca.DefaultDeviceCertLifetime + time.Minute)
	_, err = e.svc.Authenticate(res.Chain)
	wantErr(t, err, apperr.Unauthenticated, "expired")
}

// TestKeyProtectionIsRecordedAsTheAgentsClaim: what the agent states about
// its key is recorded with its source (the agent's claim); a silent agent
// is software with no source; a renewal for the same key cannot change
// the protection, whatever it says; a renewal to a new key records what
// the agent states for that key.
func TestKeyProtectionIsRecordedAsTheAgentsClaim(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	silent := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	if d, _ := e.st.Device(silent.Device.ID); d.KeyProtection != store.KeySoftware || d.KeyProtectionSource != "" {
		t.Errorf("silent agent: %q from %q, want software from nobody", d.KeyProtection, d.KeyProtectionSource)
	}
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{KeyProtection: "software"})
	d, _ := e.st.Device(res.Device.ID)
	if d.KeyProtection != store.KeySoftware || d.KeyProtectionSource != store.KeySourceAgent {
		t.Fatalf("enrolled: %q from %q", d.KeyProtection, d.KeyProtectionSource)
	}
	chain, err := e.svc.Renew(ctx, d, res.Chain[0], agentwire.RenewRequest{KeyProtection: "hardware"})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ = e.st.Device(res.Device.ID); d.KeyProtection != store.KeySoftware {
		t.Errorf("a renewal for the same key made it %q", d.KeyProtection)
	}
	if _, err := e.svc.Renew(ctx, d, chain[0], agentwire.RenewRequest{CSR: csrPEM(t, p256(t), nil), KeyProtection: "hardware"}); err != nil {
		t.Fatal(err)
	}
	if d, _ = e.st.Device(res.Device.ID); d.KeyProtection != store.KeyHardware || d.KeyProtectionSource != store.KeySourceAgent {
		t.Errorf("after a rekey: %q from %q, want hardware as the agent's claim", d.KeyProtection, d.KeyProtectionSource)
	}
}

package enrollment

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// ekHash is what an administrator registers for a's TPM: the SHA-256 of
// the EK's SubjectPublicKeyInfo as its certificate carries it, or as the
// public key encodes when the TPM has no certificate.
func ekHash(t *testing.T, a *tpmAgent) string {
	t.Helper()
	der := []byte(nil)
	if a.ek.Certificate != nil {
		der = a.ek.Certificate.RawSubjectPublicKeyInfo
	} else {
		var err error
		if der, err = x509.MarshalPKIXPublicKey(a.ek.Public); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// attestedEnrollAs is attestedEnroll with the serial the agent reports.
func attestedEnrollAs(t *testing.T, e *env, a *tpmAgent, code, serial string) (*Enrolled, error) {
	t.Helper()
	defer a.flush()
	ak := a.newAK()
	ch, err := challengeForCode(t, e.svc, a.challengeRequest(code, ak), "192.0.2.10")
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	key, signer := a.newKey(ak)
	return e.svc.Enroll(context.Background(), agentwire.EnrollRequest{Code: code, CSR: csrPEM(t, signer, nil),
		Device:      agentwire.DeviceInfo{Platform: "linux", Serial: serial, KeyProtection: "hardware"},
		Attestation: attestation(ch.ID, a.activate(ak, ch), key)}, "192.0.2.10")
}

// importCSV imports an expected-device list or fails.
func importCSV(t *testing.T, e *env, csv string) ImportResult {
	t.Helper()
	res, err := e.svc.ImportExpected(context.Background(), admin, strings.NewReader(csv))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

const ekHeader = "serial,model,platform,owner_email,department,ownership,tpm_ek_sha256\n"

// refusedAudit finds the audit entry of a refused enrollment of serial.
func refusedAudit(e *env, serial string) *store.AuditEvent {
	for _, ev := range e.st.Audit() {
		if ev.Action == "device.enroll.refused" && ev.Detail["serial"] == serial {
			return ev
		}
	}
	return nil
}

// TestEKBoundDeviceEnrollsWithItsTPM: the registered TPM enrolls as its
// expected device, gets the organization's ownership, and the device
// keeps the EK hash. The hash of an EK certificate's key equals the hash
// of the bare public key the agent sends without a certificate.
func TestEKBoundDeviceEnrollsWithItsTPM(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	for _, tc := range []struct {
		name string
		m    *tpmtest.Manufacturer
	}{{"EK certificate", m}, {"bare EK public key", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.EKRoots = rootsOf(t, m) })
			a := newTPMAgent(t, tc.m)
			h := ekHash(t, a)
			importCSV(t, e, ekHeader+"PF3ABC12,T14,linux,ada@example.com,Finance,corporate,"+strings.ToUpper(h)+"\n")
			if x, _ := e.st.ExpectedDevice("PF3ABC12"); x.TPMEKSHA256 != h {
				t.Fatalf("imported tpm_ek_sha256 = %q, want %q (lower case)", x.TPMEKSHA256, h)
			}
			res, err := attestedEnrollAs(t, e, a, e.code(t, store.OwnershipBYOD), "pf3abc12")
			if err != nil {
				t.Fatalf("enroll: %v", err)
			}
			d, _ := e.st.Device(res.Device.ID)
			if d.Ownership != store.OwnershipCorporate || d.OwnershipSource != store.OwnershipByExpected || d.OwnerEmail != "ada@example.com" {
				t.Fatalf("device = %s/%s/%s, want corporate from the expected device", d.Ownership, d.OwnershipSource, d.OwnerEmail)
			}
			if d.TPMEKSHA256 != h {
				t.Fatalf("device tpm_ek_sha256 = %q, want %q", d.TPMEKSHA256, h)
			}
			if x, _ := e.st.ExpectedDevice("PF3ABC12"); x.EnrolledAs != d.ID {
				t.Fatalf("expected device enrolled_as = %q", x.EnrolledAs)
			}
			ev := e.st.DeviceEvents(d.ID)[0]
			if ev.Detail["expected"] != "PF3ABC12" || ev.Detail["expected_match"] != "tpm_ek" || ev.Detail["tpm_ek_sha256"] != h {
				t.Fatalf("enrolled event detail = %v", ev.Detail)
			}
		})
	}
}

// TestEKBoundSerialRefusedWithAnotherTPM: a machine with another TPM, or
// with no TPM attestation, that reports the serial of an EK-bound expected
// device is refused; nothing is written but the audit entry, and the code
// still enrolls the real device.
func TestEKBoundSerialRefusedWithAnotherTPM(t *testing.T) {
	e := newEnv(t, nil)
	real, other := newTPMAgent(t, nil), newTPMAgent(t, nil)
	importCSV(t, e, ekHeader+"PF3ABC12,T14,linux,ada@example.com,Finance,corporate,"+ekHash(t, real)+"\n")
	code := e.code(t, store.OwnershipBYOD)
	certs := certCount(e.st)

	_, err := attestedEnrollAs(t, e, other, code, "PF3ABC12")
	wantErr(t, err, apperr.Forbidden, `the TPM of this device is not the one registered for serial "PF3ABC12"`)
	ev := refusedAudit(e, "PF3ABC12")
	if ev == nil || ev.Target != "PF3ABC12" || ev.Detail["tpm_ek_sha256"] != ekHash(t, other) {
		t.Fatalf("refusal audit = %+v", ev)
	}

	_, _, err = e.enroll(t, code, agentwire.DeviceInfo{Serial: "pf3abc12", WorkProfile: true})
	wantErr(t, err, apperr.Forbidden, "no TPM attestation")

	if n := certCount(e.st); n != certs {
		t.Fatalf("%d certificates issued by refused enrollments", n-certs)
	}
	if len(e.st.Devices()) != 0 {
		t.Fatalf("devices = %d, want none", len(e.st.Devices()))
	}
	if x, _ := e.st.ExpectedDevice("PF3ABC12"); x.EnrolledAs != "" {
		t.Fatalf("expected device enrolled_as = %q after refusals", x.EnrolledAs)
	}
	if _, err := attestedEnrollAs(t, e, real, code, "PF3ABC12"); err != nil {
		t.Fatalf("the real device after the refusals: %v", err)
	}
}

// TestEKMatchWinsOverTheReportedSerial: the attested TPM names its
// expected device whatever serial the agent reports (none, unknown); a
// serial of one expected device with the TPM of another is a conflict.
func TestEKMatchWinsOverTheReportedSerial(t *testing.T) {
	e := newEnv(t, nil)
	a, b := newTPMAgent(t, nil), newTPMAgent(t, nil)
	importCSV(t, e, ekHeader+
		"PF3ABC12,T14,linux,ada@example.com,Finance,corporate,"+ekHash(t, a)+"\n"+
		"C02XYZ,X1,linux,bob@example.com,Sales,cope,\n"+
		"D03BBB,X1,linux,eve@example.com,Ops,corporate,"+ekHash(t, b)+"\n")

	_, err := attestedEnrollAs(t, e, b, e.code(t, store.OwnershipBYOD), "C02XYZ")
	wantErr(t, err, apperr.Conflict, "registered as expected device C02XYZ, but this device's TPM is registered for expected device D03BBB")
	if refusedAudit(e, "C02XYZ") == nil {
		t.Fatal("the conflict was not audited")
	}
	if x, _ := e.st.ExpectedDevice("C02XYZ"); x.EnrolledAs != "" {
		t.Fatalf("C02XYZ enrolled_as = %q after a conflict", x.EnrolledAs)
	}

	for _, serial := range []string{"WRONG-SERIAL", ""} {
		t.Run("serial "+serial, func(t *testing.T) {
			res, err := attestedEnrollAs(t, e, a, e.code(t, store.OwnershipBYOD), serial)
			if err != nil {
				t.Fatalf("enroll: %v", err)
			}
			d := res.Device
			if d.Ownership != store.OwnershipCorporate || d.OwnerEmail != "ada@example.com" || d.Serial != serial {
				t.Fatalf("device = %s/%s serial %q, want the EK's expected device, the reported serial kept", d.Ownership, d.OwnerEmail, d.Serial)
			}
			if x, _ := e.st.ExpectedDevice("PF3ABC12"); x.EnrolledAs != d.ID {
				t.Fatalf("PF3ABC12 enrolled_as = %q", x.EnrolledAs)
			}
			if _, err := e.svc.Retire(context.Background(), admin, d.ID, "test"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUnboundExpectedDevicesUnchanged: an expected device without an EK
// hash matches by serial with or without an attestation, and an attested
// device records its EK hash even when nothing is registered for it.
func TestUnboundExpectedDevicesUnchanged(t *testing.T) {
	e := newEnv(t, nil)
	a := newTPMAgent(t, nil)
	importCSV(t, e, "serial,model,platform,owner_email,department,ownership\n"+
		"C02XYZ,X1,linux,bob@example.com,Sales,cope\nD03BBB,X1,linux,eve@example.com,Ops,corporate\n")
	res, err := attestedEnrollAs(t, e, a, e.code(t, store.OwnershipBYOD), "C02XYZ")
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Device; d.Ownership != store.OwnershipCOPE || d.OwnershipSource != store.OwnershipByExpected || d.TPMEKSHA256 != ekHash(t, a) {
		t.Fatalf("attested device = %s/%s ek %q", d.Ownership, d.OwnershipSource, d.TPMEKSHA256)
	}
	if ev := e.st.DeviceEvents(res.Device.ID)[0]; ev.Detail["expected_match"] != "" {
		t.Fatalf("expected_match = %q for a serial match", ev.Detail["expected_match"])
	}
	res, _, err = e.enroll(t, e.code(t, store.OwnershipBYOD), agentwire.DeviceInfo{Serial: "D03BBB"})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Device; d.Ownership != store.OwnershipCorporate || d.TPMEKSHA256 != "" {
		t.Fatalf("unattested device = %s ek %q", d.Ownership, d.TPMEKSHA256)
	}
}

// TestImportTPMEKSHA256: the column is validated per row (64 hex digits,
// case folded, one TPM per serial within the file and across the list);
// a CSV without the column keeps the registered hashes, an empty cell
// removes one.
func TestImportTPMEKSHA256(t *testing.T) {
	h1, h2 := strings.Repeat("ab", 32), strings.Repeat("0c", 32)
	_, err := ParseExpectedCSV(strings.NewReader(ekHeader +
		"A1,,linux,,,corporate," + strings.Repeat("a", 63) + "\n" +
		"A2,,linux,,,corporate," + strings.Repeat("g", 64) + "\n" +
		"A3,,linux,,,corporate," + h1 + "\n" +
		"A4,,linux,,,corporate," + strings.ToUpper(h1) + "\n" +
		"A5,,linux,,,corporate,sha256:" + h1[7:] + "\n"))
	ae, ok := err.(*apperr.Error)
	if !ok || ae.Field != "csv" {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"4 bad row(s)", `line 2: tpm_ek_sha256 "` + strings.Repeat("a", 63) + `" is not 64 hexadecimal`,
		"line 3: tpm_ek_sha256", "line 5: tpm_ek_sha256 is also on line 4", "line 6: tpm_ek_sha256 \"sha256:"} {
		if !strings.Contains(ae.Msg, want) {
			t.Errorf("message lacks %q:\n%s", want, ae.Msg)
		}
	}

	e := newEnv(t, nil)
	importCSV(t, e, ekHeader+"A1,,linux,,,corporate,"+strings.ToUpper(h1)+"\nA2,,linux,,,corporate,\n")
	// Another serial cannot take a registered TPM; nothing is imported.
	_, err = e.svc.ImportExpected(context.Background(), admin, strings.NewReader(ekHeader+"A2,,linux,,,corporate,"+h1+"\nA3,,linux,,,corporate,\n"))
	wantErr(t, err, apperr.Invalid, `serial "A2": tpm_ek_sha256 `+h1+" is already registered for expected device A1")
	if _, ok := e.st.ExpectedDevice("A3"); ok {
		t.Fatal("a refused import wrote A3")
	}
	// Moving a TPM from A1 to A2 in one import is allowed.
	if res := importCSV(t, e, ekHeader+"A1,,linux,,,corporate,"+h2+"\nA2,,linux,,,corporate,"+h1+"\n"); res.Updated != 2 {
		t.Fatalf("move = %+v, want 2 updated", res)
	}
	// Without the column the hashes stay; an unchanged row is unchanged.
	if res := importCSV(t, e, "serial,model,platform,owner_email,department,ownership\nA1,,linux,,,corporate\nA2,,linux,,,cope\n"); res.Unchanged != 1 || res.Updated != 1 {
		t.Fatalf("import without the column = %+v", res)
	}
	if x, _ := e.st.ExpectedDevice("A2"); x.TPMEKSHA256 != h1 || x.Ownership != store.OwnershipCOPE {
		t.Fatalf("A2 = %+v, want its TPM kept", x)
	}
	// An empty cell removes the binding.
	importCSV(t, e, ekHeader+"A1,,linux,,,corporate,\n")
	if x, _ := e.st.ExpectedDevice("A1"); x.TPMEKSHA256 != "" {
		t.Fatalf("A1 tpm_ek_sha256 = %q after an empty cell", x.TPMEKSHA256)
	}
	if x, ok := e.st.ExpectedDeviceByEK(h1); !ok || x.ID != "A2" {
		t.Fatalf("by EK %s = %+v", h1, x)
	}
}

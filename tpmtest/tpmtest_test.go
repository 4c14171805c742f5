package tpmtest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/tpmtest"
)

// TestStart checks that the software TPM answers TPM 2.0 commands: its
// endorsement key can be read, as an agent reads a chip's.
func TestStart(t *testing.T) {
	tpm := tpmtest.Start(t)
	eks := endorsementKeys(t, tpm)
	if len(eks) == 0 || eks[0].Public == nil {
		t.Fatalf("the software TPM has no endorsement key: %+v", eks)
	}
}

// TestProvisionEKCertificate checks that go-attestation finds the EK
// certificate the helper wrote, for the TPM's own endorsement key, and
// that it chains to the manufacturer.
func TestProvisionEKCertificate(t *testing.T) {
	tpm := tpmtest.Start(t)
	m := tpmtest.NewManufacturer(t, "Test TPM Vendor")
	want := tpmtest.ProvisionEKCertificate(t, tpm, m)
	eks := endorsementKeys(t, tpm)
	if len(eks) == 0 || eks[0].Certificate == nil {
		t.Fatalf("EKs returned no certificate: %+v", eks)
	}
	if !eks[0].Certificate.Equal(want) {
		t.Fatal("EKs returned another certificate than the one written")
	}
	if err := eks[0].Certificate.CheckSignatureFrom(m.Cert); err != nil {
		t.Fatalf("EK certificate not signed by the manufacturer: %v", err)
	}
	if len(eks[0].Certificate.UnhandledCriticalExtensions) != 1 {
		t.Fatalf("want the critical directory-name SAN unhandled, as on real EK certificates: %v", eks[0].Certificate.UnhandledCriticalExtensions)
	}
}

// TestTCTI checks that the TSS tools reach the software TPM through its
// TCTI string (the swtpm TCTI needs the control port right after the
// command port), and that Open works again once the tool is done.
func TestTCTI(t *testing.T) {
	tpm := tpmtest.Start(t)
	getcap, err := exec.LookPath("tpm2_getcap")
	if err != nil {
		if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("tpm2_getcap (Debian package tpm2-tools) is missing, and PORTIER_TEST_REQUIRE_ALL=1 requires it")
		}
		t.Skip("tpm2_getcap (Debian package tpm2-tools) is not installed")
	}
	if !strings.HasPrefix(tpm.TCTI, "swtpm:host=127.0.0.1,port=") || !strings.HasSuffix(tpm.Addr, strings.TrimPrefix(tpm.TCTI, "swtpm:host=127.0.0.1,port=")) {
		t.Fatalf("TCTI %q does not name the command port %s", tpm.TCTI, tpm.Addr)
	}
	cmd := exec.Command(getcap, "properties-fixed")
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+tpm.TCTI)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TPM2_PT_MANUFACTURER") {
		t.Fatalf("tpm2_getcap through %s: %v\n%s", tpm.TCTI, err, out)
	}
	endorsementKeys(t, tpm) // Open works again
}

// endorsementKeys opens the software TPM as an agent opens a chip and
// reads its endorsement keys.
func endorsementKeys(t *testing.T, tpm *tpmtest.TPM) []attest.EK {
	t.Helper()
	c, err := tpm.Open()
	if err != nil {
		t.Fatal(err)
	}
	at, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: c})
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	eks, err := at.EKs()
	if err != nil {
		t.Fatal(err)
	}
	return eks
}

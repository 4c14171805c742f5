package enrollment

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// toolsEKHash runs, against tpm, the Linux commands docs/enrollment.md
// gives for the tpm_ek_sha256 column, and returns their output: from the
// EK certificate when withCert, else from the EK public key.
func toolsEKHash(t *testing.T, tpm *tpmtest.TPM, withCert bool) string {
	t.Helper()
	for _, tool := range []string{"tpm2_getekcertificate", "tpm2_createek", "openssl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("PORTIER_TEST_REQUIRE_ALL") == "1" {
				t.Fatalf("%s is not installed and PORTIER_TEST_REQUIRE_ALL=1", tool)
			}
			t.Skipf("%s is not installed (Debian packages tpm2-tools, openssl)", tool)
		}
	}
	dir := t.TempDir()
	script := `tpm2_createek -c ek.ctx -G rsa -u ek.pem -f pem >/dev/null && tpm2_flushcontext -t && openssl pkey -pubin -in ek.pem -outform DER | sha256sum`
	if withCert {
		script = `tpm2_getekcertificate -o ek.crt >/dev/null && openssl x509 -inform DER -in ek.crt -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum`
	}
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+tpm.TCTI)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		t.Fatalf("%s printed nothing", filepath.Base(script))
	}
	return f[0]
}

// TestDocumentedLinuxEKHashIsPortiers: the commands the documentation
// gives print exactly the hash Portier records for the TPM's attestation,
// whether the TPM has an EK certificate or not.
func TestDocumentedLinuxEKHashIsPortiers(t *testing.T) {
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	for _, withCert := range []bool{true, false} {
		t.Run(map[bool]string{true: "EK certificate", false: "EK public key"}[withCert], func(t *testing.T) {
			sw := tpmtest.Start(t)
			if withCert {
				tpmtest.ProvisionEKCertificate(t, sw, m)
			}
			want := toolsEKHash(t, sw, withCert)
			a := openTPMAgent(t, sw)
			if (a.ek.Certificate != nil) != withCert {
				t.Fatalf("EK certificate present = %v, want %v", a.ek.Certificate != nil, withCert)
			}
			e := newEnv(t, nil)
			res, err := attestedEnrollAs(t, e, a, e.code(t, store.OwnershipCorporate), "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Device.TPMEKSHA256 != want {
				t.Fatalf("Portier recorded %s, the documented commands print %s", res.Device.TPMEKSHA256, want)
			}
		})
	}
}

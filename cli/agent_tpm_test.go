package cli

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/tpmtest"
)

// TestAgentEnrollKeyFlag: `portier agent enroll --key tpm` with a software
// TPM makes the device key in it, and status says so and names the
// browsers' own key; --key tpm without a TPM fails with the reason, and
// an unknown --key value is refused.
func TestAgentEnrollKeyFlag(t *testing.T) {
	// The TPM's maker wrote an endorsement key certificate into it; the
	// server trusts that maker's root (--tpm-ek-roots), so the key is
	// attested.
	tpm := tpmtest.Start(t)
	maker := tpmtest.NewManufacturer(t, "Example TPM Maker")
	tpmtest.ProvisionEKCertificate(t, tpm, maker)
	roots := filepath.Join(t.TempDir(), "ek-roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: maker.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startMDMEnv(t, map[string]string{"PORTIER_TPM_EK_ROOTS": roots})
	enroll := func(open agent.TPMOpener, key string) (int, string, string) {
		sd := filepath.Join(t.TempDir(), "agent")
		deps := defaultAgentDeps()
		deps.TPM, deps.BrowserRunner = open, nil
		var out, errb syncBuffer
		code := runAgent(context.Background(), []string{"enroll", "--server", m.url(""), "--code", m.newCode("corporate"),
			"--state-dir", sd, "--ca-fingerprint", m.fp, "--key", key}, envFrom(nil), &out, &errb, deps)
		if code == 0 {
			deps := defaultAgentDeps()
			deps.TPM = open
			var sout, serr syncBuffer
			if c := runAgent(context.Background(), []string{"status", "--state-dir", sd}, envFrom(nil), &sout, &serr, deps); c != 0 {
				t.Fatalf("status exited %d:\n%s%s", c, sout.String(), serr.String())
			}
			return code, out.String() + sout.String(), errb.String()
		}
		return code, out.String(), errb.String()
	}
	noTPM := func() (attest.CommandChannelTPM20, error) {
		return nil, errors.New("no TPM 2.0 on this machine (/dev/tpmrm0 does not exist)")
	}

	code, out, errs := enroll(func() (attest.CommandChannelTPM20, error) { return tpm.Open() }, "tpm")
	if code != 0 || !strings.Contains(out, "  Key:         hardware (TPM 2.0, attested by the server)") ||
		!strings.Contains(out, "Key:          hardware (TPM 2.0, attested by the server)") ||
		!strings.Contains(out, "Browser key:  software (browser.key in the state directory") {
		t.Fatalf("enroll --key tpm (exit %d):\n%s%s", code, out, errs)
	}
	t.Logf("enroll --key tpm, then status:\n%s%s", out, errs)
	_, rest, _ := strings.Cut(out, "Enrolled as device ")
	id, _, _ := strings.Cut(rest, " ")
	var dev struct {
		KeyProtection       string `json:"key_protection"`
		KeyProtectionSource string `json:"key_protection_source"`
	}
	if st := m.api("GET", "/api/v1/devices/"+strings.TrimSpace(id), "", &dev); st != 200 ||
		dev.KeyProtection != "hardware" || dev.KeyProtectionSource != "tpm_attested" {
		t.Fatalf("device %q on the server: %d %+v, want hardware, tpm_attested", id, st, dev)
	}

	code, out, errs = enroll(noTPM, "tpm")
	if code != ExitFail || !strings.Contains(errs, "--key tpm: the device key cannot be made in a TPM: no TPM 2.0 on this machine") {
		t.Fatalf("enroll --key tpm without a TPM (exit %d):\n%s%s", code, out, errs)
	}
	code, out, errs = enroll(noTPM, "auto")
	if code != 0 || !strings.Contains(out, "Key:          software (device.key in the state directory); no usable TPM: no TPM 2.0 on this machine") ||
		!strings.Contains(out, "Browser key:  the device key itself") {
		t.Fatalf("enroll --key auto without a TPM (exit %d):\n%s%s", code, out, errs)
	}
	code, _, errs = enroll(noTPM, "hsm")
	if code != ExitFail || !strings.Contains(errs, "--key must be auto, tpm or software") {
		t.Fatalf("enroll --key hsm (exit %d):\n%s", code, errs)
	}
}

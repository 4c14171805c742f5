package console

import (
	"context"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestDevicePageShowsTheTPMEndorsementKey: a device enrolled with a TPM
// attestation shows its endorsement key's hash on the device page and in
// the device API; a device without one shows no such line.
func TestDevicePageShowsTheTPMEndorsementKey(t *testing.T) {
	e, con, corp, _ := devicePageEnv(t)
	s := pageSession(t, con, "ek-admin", RoleAdmin, 0)
	if _, body := s.callBody(con, "GET", "/devices/"+corp, ""); strings.Contains(body, `id="tpm-ek"`) {
		t.Fatal("a device without a TPM attestation shows an endorsement key")
	}
	h := strings.Repeat("5e", 32)
	d, _ := e.st.Device(corp)
	cp := *d
	cp.KeyProtection, cp.KeyProtectionSource, cp.TPMEKSHA256 = store.KeyHardware, store.KeySourceTPM, h
	if err := e.st.Write(context.Background(), store.Put(&cp)); err != nil {
		t.Fatal(err)
	}
	if _, body := s.callBody(con, "GET", "/devices/"+corp, ""); !strings.Contains(body, `id="tpm-ek"><code>`+h+`</code>`) {
		t.Errorf("device page lacks the endorsement key hash:\n%s", body)
	}
	if _, body := s.callBody(con, "GET", "/api/v1/devices/"+corp, ""); !strings.Contains(body, `"tpm_ek_sha256":"`+h+`"`) {
		t.Errorf("GET /api/v1/devices/{id} lacks tpm_ek_sha256:\n%.2000s", body)
	}
}

package enrollment

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestEKBindingAcrossReplicas: an import on replica A binds a serial to
// its TPM; replica B, which hears of A's writes only by catching up and
// already knows the code, refuses another TPM claiming that serial rather
// than matching it on a stale list, then enrolls the real TPM.
func TestEKBindingAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	keys := filepath.Join(t.TempDir(), "ca")
	ctx := context.Background()
	a := replicaService(t, dsn, keys, false)
	b := replicaService(t, dsn, keys, true)
	real, other := newTPMAgent(t, nil), newTPMAgent(t, nil)

	tok, err := a.CreateToken(ctx, admin, TokenRequest{Name: "replicas", MaxUses: 5, Ownership: store.OwnershipBYOD})
	if err != nil {
		t.Fatal(err)
	}
	enrollOnB := func(agent *tpmAgent) (*Enrolled, error) {
		defer agent.flush()
		ak := agent.newAK()
		ch, err := challengeForCode(t, b, agent.challengeRequest(tok.Code, ak), "192.0.2.50") // B learns the code here
		if err != nil {
			t.Fatal(err)
		}
		key, signer := agent.newKey(ak)
		att := attestation(ch.ID, agent.activate(ak, ch), key)
		if _, err := a.ImportExpected(ctx, admin, strings.NewReader(ekHeader+"PF3ABC12,T14,linux,ada@example.com,Finance,corporate,"+ekHash(t, real)+"\n")); err != nil {
			t.Fatal(err)
		}
		return b.Enroll(ctx, agentwire.EnrollRequest{Code: tok.Code, CSR: csrPEM(t, signer, nil),
			Device: agentwire.DeviceInfo{Platform: "linux", Serial: "PF3ABC12", KeyProtection: "hardware", WorkProfile: true}, Attestation: att}, "192.0.2.50")
	}
	_, err = enrollOnB(other)
	wantErr(t, err, apperr.Forbidden, "not the one registered for serial")
	res, err := enrollOnB(real)
	if err != nil {
		t.Fatalf("the real TPM on B: %v", err)
	}
	if res.Device.Ownership != store.OwnershipCorporate || res.Device.OwnerEmail != "ada@example.com" {
		t.Fatalf("device = %s/%s, want the expected device's", res.Device.Ownership, res.Device.OwnerEmail)
	}
}

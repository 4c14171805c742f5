package enrollment

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/tpmtest"
)

// TestAttestationAcrossReplicas: the challenge is issued by replica A and
// answered on replica B, which hears of A's writes only by catching up
// (its notifications never arrive). B finds the code and the challenge,
// issues a tpm_attested certificate, and the challenge is then used on
// every replica: a replay on A is refused.
func TestAttestationAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	keys := filepath.Join(t.TempDir(), "ca")
	ctx := context.Background()
	m := tpmtest.NewManufacturer(t, "Trusted TPM Vendor")
	a := replicaService(t, dsn, keys, false)
	b := replicaService(t, dsn, keys, true)
	a.ekRoots, b.ekRoots = rootsOf(t, m), rootsOf(t, m)
	agent := newTPMAgent(t, m)

	tok, err := a.CreateToken(ctx, admin, TokenRequest{Name: "replicas", MaxUses: 5, Ownership: store.OwnershipCorporate})
	if err != nil {
		t.Fatal(err)
	}
	ak := agent.newAK()
	ch, err := challengeForCode(t, a, agent.challengeRequest(tok.Code, ak), "192.0.2.40")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.st.AttestChallenge(ch.ID); ok {
		t.Log("B applied the challenge before the enrollment: the catch-up was not exercised this time")
	}
	key, signer := agent.newKey(ak)
	att := attestation(ch.ID, agent.activate(ak, ch), key)
	req := agentwire.EnrollRequest{Code: tok.Code, CSR: csrPEM(t, signer, nil),
		Device: agentwire.DeviceInfo{Platform: "linux", KeyProtection: "hardware"}, Attestation: att}
	res, err := b.Enroll(ctx, req, "192.0.2.40")
	if err != nil {
		t.Fatalf("enroll on B: %v", err)
	}
	if !ca.KeyInfoFromCert(res.Chain[0]).Attested() {
		t.Fatalf("key info = %+v", ca.KeyInfoFromCert(res.Chain[0]))
	}
	_, err = a.Enroll(ctx, req, "192.0.2.41")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Field != "attestation.challenge_id" {
		t.Fatalf("replay on A: %v, want refused on attestation.challenge_id", err)
	}
}

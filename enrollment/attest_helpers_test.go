package enrollment

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/store"
	"github.com/portier/portier/tpmtest"
)

// tpmAgent does in a test what the agent does with its TPM: a real swtpm
// driven through go-attestation.
type tpmAgent struct {
	t      testing.TB
	tpm    *attest.TPM
	ek     attest.EK
	loaded []func() // unload the keys made: a TPM holds only a few at once
}

// flush unloads every key made so far.
func (a *tpmAgent) flush() {
	for _, f := range a.loaded {
		f()
	}
	a.loaded = nil
}

// newTPMAgent starts a software TPM; with m, its EK certificate is signed
// by that manufacturer first.
func newTPMAgent(t testing.TB, m *tpmtest.Manufacturer) *tpmAgent {
	t.Helper()
	sw := tpmtest.Start(t)
	if m != nil {
		tpmtest.ProvisionEKCertificate(t, sw, m)
	}
	return openTPMAgent(t, sw)
}

// openTPMAgent drives an already started software TPM.
func openTPMAgent(t testing.TB, sw *tpmtest.TPM) *tpmAgent {
	t.Helper()
	c, err := sw.Open()
	if err != nil {
		t.Fatal(err)
	}
	at, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { at.Close() })
	eks, err := at.EKs()
	if err != nil || len(eks) == 0 {
		t.Fatalf("EKs: %v", err)
	}
	return &tpmAgent{t: t, tpm: at, ek: eks[0]}
}

// newAK makes an attestation key.
func (a *tpmAgent) newAK() *attest.AK {
	a.t.Helper()
	ak, err := a.tpm.NewAK(nil)
	if err != nil {
		a.t.Fatalf("NewAK: %v", err)
	}
	a.loaded = append(a.loaded, func() { ak.Close(a.tpm) })
	return ak
}

// challengeRequest is the request for a challenge for ak: the EK
// certificate when the TPM has one, its public key otherwise.
func (a *tpmAgent) challengeRequest(code string, ak *attest.AK) agentwire.AttestChallengeRequest {
	a.t.Helper()
	p := ak.AttestationParameters()
	req := agentwire.AttestChallengeRequest{Code: code, AK: agentwire.TPMCreation{Public: p.Public, CreateData: p.CreateData,
		CreateAttestation: p.CreateAttestation, CreateSignature: p.CreateSignature}}
	if a.ek.Certificate != nil {
		req.EK.Certificate = a.ek.Certificate.Raw
	} else {
		der, err := x509.MarshalPKIXPublicKey(a.ek.Public)
		if err != nil {
			a.t.Fatal(err)
		}
		req.EK.Public = der
	}
	return req
}

// activate decrypts a challenge with ak.
func (a *tpmAgent) activate(ak *attest.AK, ch agentwire.AttestChallenge) []byte {
	a.t.Helper()
	secret, err := ak.ActivateCredential(a.tpm, attest.EncryptedCredential{Credential: ch.Credential, Secret: ch.Secret})
	if err != nil {
		a.t.Fatalf("ActivateCredential: %v", err)
	}
	return secret
}

// newKey makes an ECDSA P-256 key in the TPM certified by ak, and its
// signer.
func (a *tpmAgent) newKey(ak *attest.AK) (*attest.Key, crypto.Signer) {
	a.t.Helper()
	k, err := a.tpm.NewKey(ak, &attest.KeyConfig{Algorithm: attest.ECDSA, Size: 256})
	if err != nil {
		a.t.Fatalf("NewKey: %v", err)
	}
	a.loaded = append(a.loaded, func() { k.Close() })
	priv, err := k.Private(k.Public())
	if err != nil {
		a.t.Fatal(err)
	}
	return k, priv.(crypto.Signer)
}

// attestation is the KeyAttestation for key under a challenge.
func attestation(chID string, activated []byte, key *attest.Key) *agentwire.KeyAttestation {
	cp := key.CertificationParameters()
	return &agentwire.KeyAttestation{Format: agentwire.FormatTPM2, ChallengeID: chID, Activated: activated,
		Key: agentwire.TPMCreation{Public: cp.Public, CreateData: cp.CreateData, CreateAttestation: cp.CreateAttestation, CreateSignature: cp.CreateSignature}}
}

// rootsOf is an EKRoots trusting m.
func rootsOf(t testing.TB, m *tpmtest.Manufacturer) *EKRoots {
	t.Helper()
	r, err := ParseEKRoots(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.Cert.Raw}))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// certCount is how many certificates the CA recorded.
func certCount(st *store.Store) int {
	it, err := st.Txn().Get(string(store.KindCertificate), "id")
	if err != nil {
		return -1
	}
	n := 0
	for raw := it.Next(); raw != nil; raw = it.Next() {
		n++
	}
	return n
}

// challengeForCode asks svc for a challenge with req as its JSON body.
func challengeForCode(t testing.TB, svc *Service, req agentwire.AttestChallengeRequest, ip string) (agentwire.AttestChallenge, error) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return svc.AttestChallengeForCode(context.Background(), body, ip)
}

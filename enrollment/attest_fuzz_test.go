package enrollment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/store"
)

func FuzzParseAttestChallengeRequest(f *testing.F) {
	f.Add([]byte(`{"code":"ABCDE-FGHJK-MNPQR-STVWX-YZ012","ek":{"certificate":"MIIB"},"ak":{"public":"AAE=","create_data":"AAE=","create_attestation":"AAE=","create_signature":"AAE="}}`))
	f.Add([]byte(`{"ek":{"public":"MIIB"},"ak":{"public":"AAE="}}`))
	f.Add([]byte(`{"ek":{},"ak":{}}`))
	f.Add([]byte(`{"ek":{"certificate":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseAttestChallengeRequest(b)
		clientError(t, err)
		if err == nil && (len(r.EK.Certificate)+len(r.EK.Public) == 0 || len(r.AK.Public) == 0 || len(r.AK.CreateSignature) == 0) {
			t.Fatalf("accepted without an EK or an AK: %+v", r)
		}
	})
}

// FuzzAttestChallengeStructures feeds arbitrary TPM structures (EK
// certificate or public key, AK creation) to the challenge: never a
// panic, never a server error, and nothing written unless the AK checks.
func FuzzAttestChallengeStructures(f *testing.F) {
	e := newEnv(f, nil)
	d := &store.Device{ID: "dev_fuzz", State: store.DeviceActive}
	f.Add([]byte{0x30, 0x82, 0x01}, []byte{0, 1}, []byte{0, 0x23, 0, 0x0b}, []byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x1a}, []byte{0, 0x18, 0, 0x0b, 0, 0x20})
	f.Add([]byte{}, []byte{0x10, 0x01, 0x00, 0x00, 0x10}, []byte{0}, []byte{0}, []byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ek, pub, data, att, sig []byte) {
		req := agentwire.AttestChallengeRequest{AK: agentwire.TPMCreation{Public: pub, CreateData: data, CreateAttestation: att, CreateSignature: sig}}
		if len(ek) > 0 && ek[0] == 0x30 {
			req.EK.Certificate = ek
		} else {
			req.EK.Public = ek
		}
		body, _ := json.Marshal(req)
		r, err := ParseAttestChallengeRequest(body)
		if err != nil {
			clientError(t, err)
			return
		}
		_, err = e.svc.AttestChallengeForDevice(context.Background(), d, r)
		clientError(t, err)
	})
}

// FuzzVerifyAttestation feeds arbitrary certification structures to the
// verification of an answer whose challenge and secret are right: never a
// panic, never a server error, never accepted (the key is a software one).
func FuzzVerifyAttestation(f *testing.F) {
	e := newEnv(f, nil)
	akKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	akPub, err := tpm2.Public{Type: tpm2.AlgECC, NameAlg: tpm2.AlgSHA256,
		Attributes: tpm2.FlagSign | tpm2.FlagRestricted | tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin,
		ECCParameters: &tpm2.ECCParams{Sign: &tpm2.SigScheme{Alg: tpm2.AlgECDSA, Hash: tpm2.AlgSHA256}, CurveID: tpm2.CurveNISTP256,
			Point: tpm2.ECPoint{XRaw: akKey.X.FillBytes(make([]byte, 32)), YRaw: akKey.Y.FillBytes(make([]byte, 32))}}}.Encode()
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256([]byte("fuzz"))
	ch := &store.AttestChallenge{ID: "atc_fuzz", Owner: deviceOwner("dev_fuzz"), SecretHash: sum[:], AKPublic: akPub,
		EKSource: store.KeySourceTPM, ExpiresAt: e.clock.Now().Add(AttestChallengeTTL)}
	if err := e.st.Write(context.Background(), store.Put(ch)); err != nil {
		f.Fatal(err)
	}
	csrKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	f.Add(akPub, []byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x17}, []byte{0, 0x18, 0, 0x0b, 0, 0x20})
	f.Add([]byte{0, 0x23}, []byte{}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, pub, att, sig []byte) {
		a := &agentwire.KeyAttestation{Format: agentwire.FormatTPM2, ChallengeID: ch.ID, Activated: []byte("fuzz"),
			Key: agentwire.TPMCreation{Public: pub, CreateAttestation: att, CreateSignature: sig}}
		got, err := e.svc.verifyAttestation(a, ch.Owner, &csrKey.PublicKey, "dev_fuzz", e.clock.Now())
		clientError(t, err)
		if err == nil {
			t.Fatalf("accepted a forged attestation: %+v", got)
		}
	})
}

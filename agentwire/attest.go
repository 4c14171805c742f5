package agentwire

import "time"

// TPM key attestation (protocol 1.2). An agent whose key is in a TPM 2.0
// proves it in two steps:
//
//  1. POST /api/v1/agent/attest/challenge with AttestChallengeRequest: the
//     TPM's endorsement key (EK) and a fresh attestation key (AK). The
//     server answers AttestChallenge: a secret encrypted so that only the
//     TPM holding that EK, and only for that AK, can decrypt it
//     (TPM2_MakeCredential / TPM2_ActivateCredential).
//  2. The agent decrypts it (ActivateCredential), has the AK certify the
//     new device key (TPM2_Certify), and sends KeyAttestation in the
//     EnrollRequest or RenewRequest whose CSR is for that key.
//
// The byte fields are TPM 2.0 structures as the TPM returns them (base64 in
// JSON), named after the TPM 2.0 specification, part 3.

// FormatTPM2 is KeyAttestation.Format for TPM 2.0 key certification.
const FormatTPM2 = "tpm2"

// TPMEndorsement is the TPM's endorsement key: its certificate, from the
// TPM's non-volatile memory where the manufacturer wrote it, or only its
// public key when the TPM has no certificate.
type TPMEndorsement struct {
	// Certificate is the EK certificate, DER.
	Certificate []byte `json:"certificate,omitempty"`
	// Public is the EK's public key, PKIX DER, sent when there is no
	// certificate.
	Public []byte `json:"public,omitempty"`
}

// TPMCreation is a key's public area and the TPM's statement that it
// created the key (TPM2_Create or TPM2_CreatePrimary creation data,
// TPM2_CertifyCreation attestation and its signature).
type TPMCreation struct {
	Public            []byte `json:"public"`             // TPM2B_PUBLIC contents
	CreateData        []byte `json:"create_data"`        // TPMS_CREATION_DATA
	CreateAttestation []byte `json:"create_attestation"` // TPMS_ATTEST
	CreateSignature   []byte `json:"create_signature"`   // TPMT_SIGNATURE
}

// AttestChallengeRequest is the body of POST /api/v1/agent/attest/challenge.
// A first enrollment names its enrollment code (which the challenge does not
// use up); a renewal is authenticated by the device certificate (mutual
// TLS) and sends no code.
type AttestChallengeRequest struct {
	Code string         `json:"code,omitempty"`
	EK   TPMEndorsement `json:"ek"`
	AK   TPMCreation    `json:"ak"`
}

// AttestChallenge is the answer: the encrypted credential for
// TPM2_ActivateCredential, and the challenge's id and expiry.
type AttestChallenge struct {
	ID string `json:"id"`
	// Credential and Secret are TPM2_ActivateCredential's credentialBlob
	// and secret.
	Credential []byte    `json:"credential"`
	Secret     []byte    `json:"secret"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// KeyAttestation proves where the key of the CSR it travels with lives.
type KeyAttestation struct {
	// Format is FormatTPM2.
	Format string `json:"format"`
	// ChallengeID is AttestChallenge.ID, and Activated the secret
	// TPM2_ActivateCredential returned for it.
	ChallengeID string `json:"challenge_id"`
	Activated   []byte `json:"activated"`
	// Key is the device key's creation, certified by the AK of the
	// challenge: CreateAttestation is TPM2_Certify's attestation of the
	// key and CreateSignature the AK's signature over it.
	Key TPMCreation `json:"key"`
}

// BrowserCertificateRequest is the body of POST
// /api/v1/agent/browser-certificates (protocol 1.2): a certificate for a
// key of its own, kept where one person's browsers find it, for a device
// whose agent key cannot be copied there (a key in a TPM), or for a
// Windows person whose key the person's own logon task made. The device is
// the one of the agent's client certificate.
type BrowserCertificateRequest struct {
	// CSR is PEM, for the browser key, with the same subject rules as the
	// enrollment CSR.
	CSR string `json:"csr"`
	// Person is the local account whose store holds the key, as the agent
	// names it (a user name, a Windows SID): shown to administrators, at
	// most 256 bytes.
	Person string `json:"person"`
	// KeyProtection is where that key lives (as in DeviceInfo), as the
	// agent sees it. A browser key sits in a person's store, which the
	// person controls, so the server records "hardware" only with an
	// Attestation; without one the certificate says software.
	KeyProtection string `json:"key_protection,omitempty"`
	// Attestation proves that the CSR's key was made in this device's TPM
	// and cannot leave it (as for the agent's key; the challenge is asked
	// for with the device certificate).
	Attestation *KeyAttestation `json:"attestation,omitempty"`
}

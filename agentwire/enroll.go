package agentwire

import "time"

// EnrollRequest is the body of POST /api/v1/agent/enroll: the enrollment
// code, a PEM certificate request for the key the agent generated, and what
// the agent knows about the device.
type EnrollRequest struct {
	Code   string     `json:"code"`
	CSR    string     `json:"csr"`
	Device DeviceInfo `json:"device"`
	// Attestation proves that the CSR's key is in a TPM (protocol 1.2);
	// without it, Device.KeyProtection is the agent's statement.
	Attestation *KeyAttestation `json:"attestation,omitempty"`
}

// DeviceInfo describes the enrolling device, as the agent reads it. It is
// the device's own claim: the server trusts none of it for trust decisions
// without the organization's records.
type DeviceInfo struct {
	Serial       string `json:"serial"`
	Hostname     string `json:"hostname"`
	Platform     string `json:"platform"`
	Model        string `json:"model"`
	OSVersion    string `json:"os_version"`
	AgentVersion string `json:"agent_version"`
	// WorkProfile: the agent manages only its work profile (BYOD).
	WorkProfile bool   `json:"work_profile"`
	TimeZone    string `json:"time_zone"`
	// KeyProtection is where the agent keeps the device key: "hardware"
	// (TPM, Secure Enclave, ...) or "software". Missing or any other value
	// counts as software. It is the agent's statement: the server records
	// it as such (store.KeySourceAgent) and verifies nothing.
	KeyProtection string `json:"key_protection,omitempty"`
}

// Values of KeyProtection.
const (
	KeyHardware = "hardware"
	KeySoftware = "software"
)

// RenewRequest is the body of POST /api/v1/agent/renew: empty (or {}) to
// renew for the same key, or a CSR to move to a new key.
type RenewRequest struct {
	CSR string `json:"csr"`
	// KeyProtection is where the key of CSR lives (as in DeviceInfo);
	// since protocol 1.1. Without a CSR the key does not change, and
	// neither does its protection: the server ignores the field then.
	KeyProtection string `json:"key_protection,omitempty"`
	// Attestation proves that the CSR's key is in a TPM (protocol 1.2).
	Attestation *KeyAttestation `json:"attestation,omitempty"`
}

// Certificate is the answer to enroll and renew: the device certificate
// and what the device needs to know about its enrollment.
type Certificate struct {
	DeviceID string `json:"device_id"`
	// Certificate is PEM: the leaf, then the intermediate.
	Certificate string    `json:"certificate"`
	NotAfter    time.Time `json:"not_after"`
	// RenewAfter is two thirds of the certificate's lifetime.
	RenewAfter  time.Time `json:"renew_after"`
	Ownership   string    `json:"ownership"`
	WorkProfile bool      `json:"work_profile,omitempty"`
	State       string    `json:"state"`
	// KeyProtection and KeyProtectionSource are what the certificate says
	// about its key (protocol 1.2): "hardware" or "software", and
	// "tpm_attested" when the server verified a TPM attestation,
	// "agent_claim" when it took the agent's word.
	KeyProtection       string `json:"key_protection,omitempty"`
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
}

// Unenrolled is the answer to POST /api/v1/agent/unenroll.
type Unenrolled struct {
	DeviceID string `json:"device_id"`
	State    string `json:"state"`
}

// Origins is the answer to GET /api/v1/agent/origins: Portier's https
// origins (the console and every route), for the browsers' certificate
// auto-select policy.
type Origins struct {
	Origins []string `json:"origins"`
}

// ErrorBody is every error answer of the agent API.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

package store

import "time"

// Kinds for sign-in state.
const (
	KindCredential Kind = "credential"
	KindAuthFlow   Kind = "authflow"
)

// Credential is a WebAuthn credential. Purpose "mfa" is a security key or
// passkey for signing in and step-up; purpose "device" is the device-bound
// credential of a browser-only BYOD work profile, which identifies the
// device (DeviceID) and must not be backup-eligible (synced passkeys do not
// identify a device).
type Credential struct {
	ID             string    `json:"id"` // base64url credential id
	UserID         string    `json:"user_id"`
	Purpose        string    `json:"purpose"` // "mfa" or "device"
	DeviceID       string    `json:"device_id,omitempty"`
	Name           string    `json:"name,omitempty"`
	PublicKey      []byte    `json:"public_key"`
	AttestationFmt string    `json:"attestation_fmt,omitempty"`
	AAGUID         []byte    `json:"aaguid,omitempty"`
	SignCount      uint32    `json:"sign_count"`
	BackupEligible bool      `json:"backup_eligible"`
	BackedUp       bool      `json:"backed_up"`
	Transports     []string  `json:"transports,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	LastUsed       time.Time `json:"last_used,omitzero"`
}

func (*Credential) Kind() Kind    { return KindCredential }
func (r *Credential) Key() string { return r.ID }

// AuthFlow is the server-side state of one sign-in ceremony in progress
// (OIDC state, PKCE verifier and nonce; or a WebAuthn challenge). ID is the
// SHA-256 of the state value the browser carries; it lives minutes.
type AuthFlow struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // "oidc", "webauthn_login", "webauthn_register", "step_up", ...
	Provider  string    `json:"provider,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	Verifier  string    `json:"verifier,omitempty"` // PKCE code verifier
	Nonce     string    `json:"nonce,omitempty"`
	Redirect  string    `json:"redirect,omitempty"` // validated post-sign-in destination
	Data      []byte    `json:"data,omitempty"`     // ceremony data (e.g. webauthn.SessionData JSON)
	ExpiresAt time.Time `json:"expires_at"`
}

func (*AuthFlow) Kind() Kind    { return KindAuthFlow }
func (r *AuthFlow) Key() string { return r.ID }

// Credential returns a WebAuthn credential by id.
func (s *Store) Credential(id string) (*Credential, bool) {
	return first[Credential](s.Txn(), KindCredential, "id", id)
}

// CredentialsOf returns a user's WebAuthn credentials.
func (s *Store) CredentialsOf(userID string) []*Credential {
	return all[Credential](s.Txn(), KindCredential, "user", userID)
}

// AuthFlow returns a sign-in ceremony in progress by id.
func (s *Store) AuthFlow(id string) (*AuthFlow, bool) {
	return first[AuthFlow](s.Txn(), KindAuthFlow, "id", id)
}

package store

import "time"

// Kind names a type of record. Kinds are stable: they are the table names in
// the durable backends.
type Kind string

// Record kinds.
const (
	KindDevice      Kind = "device"
	KindCertificate Kind = "certificate"
	KindRevocation  Kind = "revocation"
	KindSession     Kind = "session"
	KindUser        Kind = "user"
	KindToken       Kind = "token"
	KindInvite      Kind = "invite"
	KindBlob        Kind = "blob"
)

// Record is anything the store keeps. Every record type has a string ID that
// is unique within its kind.
type Record interface {
	Kind() Kind
	Key() string
}

// Device is an enrolled (or pre-registered) device with its precomputed
// trust and compliance. The proxy only reads it; posture computes it.
type Device struct {
	ID            string      `json:"id"`
	Name          string      `json:"name,omitempty"`
	Serial        string      `json:"serial,omitempty"` // hardware serial number
	Platform      string      `json:"platform,omitempty"`
	Ownership     Ownership   `json:"ownership"`
	OwnerEmail    string      `json:"owner_email,omitempty"`
	State         DeviceState `json:"state"`
	Trust         Trust       `json:"trust"`
	Compliant     bool        `json:"compliant"`
	FailingChecks []string    `json:"failing_checks,omitempty"`
	PassingChecks []string    `json:"passing_checks,omitempty"`
	CertSerial    string      `json:"cert_serial,omitempty"`
	EnrolledAt    time.Time   `json:"enrolled_at,omitzero"`
	LastSeen      time.Time   `json:"last_seen,omitzero"`

	Hostname     string   `json:"hostname,omitempty"`
	Model        string   `json:"model,omitempty"`
	OSVersion    string   `json:"os_version,omitempty"`
	AgentVersion string   `json:"agent_version,omitempty"`
	Department   string   `json:"department,omitempty"`
	Groups       []string `json:"groups,omitempty"` // device groups (from the expected-device import)
	// WorkProfile is set for a BYOD enrollment: only the work profile is managed.
	WorkProfile bool   `json:"work_profile,omitempty"`
	TimeZone    string `json:"time_zone,omitempty"` // IANA zone the device reports, for working hours
	// ProvisionStart is when provisioning began (pre-registration or code
	// creation); ProvisionedAt is the first compliant check-in. Their
	// difference is the "time to provision" KPI.
	ProvisionStart time.Time `json:"provision_start,omitzero"`
	ProvisionedAt  time.Time `json:"provisioned_at,omitzero"`
	// Compliance escalation: when the current failing streak started and the
	// ladder step reached (see package posture).
	FailingSince   time.Time `json:"failing_since,omitzero"`
	EscalationStep string    `json:"escalation_step,omitempty"`
	// Would is the verdict the report-only compliance policies would give
	// (nil when none applies): recorded, never acted on.
	Would     *WouldCompliance `json:"would,omitempty"`
	RetiredAt time.Time        `json:"retired_at,omitzero"`

	// KeyProtection is where the device's private key lives, as the agent
	// reported at enrollment: KeyHardware or KeySoftware ("" = software).
	KeyProtection string `json:"key_protection,omitempty"`
	// KeyProtectionSource says where KeyProtection comes from:
	// KeySourceAgent (the agent's statement, not verified) or "" (nothing
	// was stated: software).
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
	// TPMEKSHA256 is the lower-case hex SHA-256 of the PKIX DER public key
	// of the TPM endorsement key that attested the device key at
	// enrollment ("" without a verified attestation).
	TPMEKSHA256 string `json:"tpm_ek_sha256,omitempty"`
	// OwnershipSource says who decided Ownership: OwnershipByAdmin (a code
	// or token an administrator created), OwnershipByExpected (the serial
	// matched the expected-device list), OwnershipByApproval (an
	// administrator approved it) or OwnershipBySelfService (the employee
	// alone: never more than byod).
	OwnershipSource string `json:"ownership_source,omitempty"`
	// RequestedOwnership is what the employee asked for at self-service
	// enrollment when it was more than the device got; set while the
	// request waits for an administrator's approval.
	RequestedOwnership Ownership `json:"requested_ownership,omitempty"`
	// Shared marks a device used by several people: any signed-in user of
	// the organization counts as its user. Otherwise the device is a
	// managed device only for its owner (OwnerEmail).
	Shared bool `json:"shared,omitempty"`
}

// Where a device's private key lives (Device.KeyProtection).
const (
	KeyHardware = "hardware"
	KeySoftware = "software"
)

// Who says where a key lives (Device.KeyProtectionSource,
// Certificate.KeyProtectionSource).
const (
	// KeySourceAgent marks a KeyProtection the agent stated at enrollment
	// or at a renewal that moved the device to a new key, without a
	// verified attestation: it is a claim of the device.
	KeySourceAgent = "agent_claim"
	// KeySourceTPM marks a hardware key Portier verified: a TPM 2.0
	// certified the key with an attestation key that answered a challenge
	// encrypted to the TPM's endorsement key, whose certificate chains to
	// a manufacturer root the organization trusts.
	KeySourceTPM = "tpm_attested"
)

// Who decided a device's ownership (Device.OwnershipSource).
const (
	OwnershipByAdmin       = "admin"
	OwnershipByExpected    = "expected"
	OwnershipByApproval    = "approval"
	OwnershipBySelfService = "self_service"
)

// HardwareKey reports whether the device's key is hardware-bound; any
// value other than KeyHardware counts as software.
func (d *Device) HardwareKey() bool { return d.KeyProtection == KeyHardware }

// PendingApproval reports whether the device waits for an administrator
// to decide its ownership.
func (d *Device) PendingApproval() bool { return d.RequestedOwnership != "" }

// Certificate is a certificate issued by Portier's CA. ID is the serial
// number in decimal, as the CA spells it. The key fields repeat what the
// certificate's own key-info extension says (package ca, OIDKeyInfo), for
// listing; the proxy reads the certificate itself.
type Certificate struct {
	ID        string    `json:"id"`
	DeviceID  string    `json:"device_id,omitempty"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	DER       []byte    `json:"der"`
	// Purpose is "agent" (the agent's own key; "" in records written
	// before purposes existed) or "browser" (a key of its own in a
	// person's browser store); Person names that person's local account.
	Purpose string `json:"purpose,omitempty"`
	Person  string `json:"person,omitempty"`
	// KeyProtection and KeyProtectionSource are as on Device, for this
	// certificate's key.
	KeyProtection       string `json:"key_protection,omitempty"`
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
}

// Revocation marks a certificate serial as revoked. It is its own kind so the
// per-request revocation check is one lookup in a small table.
type Revocation struct {
	ID         string    `json:"id"` // serial number, decimal
	ReasonCode int       `json:"reason_code"`
	Reason     string    `json:"reason,omitempty"`
	RevokedAt  time.Time `json:"revoked_at"`
	NotAfter   time.Time `json:"not_after,omitzero"` // the certificate's expiry: after it the entry may leave the CRL
}

// Session is a signed-in browser session. ID is the SHA-256 of the cookie
// value, so the store never holds a usable cookie.
type Session struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Email      string    `json:"email"`
	Groups     []string  `json:"groups,omitempty"`
	IdP        string    `json:"idp"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeen   time.Time `json:"last_seen"`
	ExpiresAt  time.Time `json:"expires_at"`
	MFAAt      time.Time `json:"mfa_at,omitzero"`
	RefreshEnc []byte    `json:"refresh_enc,omitempty"` // IdP refresh token, sealed
	// ParentID is set on a route host's session: it was handed off from the
	// console session ParentID, and ends with it.
	ParentID string `json:"parent_id,omitempty"`
	// Host is the route host a child session is valid on ("" = console).
	Host string `json:"host,omitempty"`
	// DeviceID is set when the browser proved possession of a device-bound
	// WebAuthn credential (browser-only BYOD work profile): the session's
	// requests then come from that device, unless a device certificate says
	// otherwise.
	DeviceID string `json:"device_id,omitempty"`
	// DeviceCheckedAt is when the browser last proved DeviceID with its
	// device-bound passkey (registration or /auth/device). The proxy counts
	// the device only while this is within enrollment's
	// browser_device_recheck; route sessions copy it from their console
	// session at hand-off and are updated with it.
	DeviceCheckedAt time.Time `json:"device_checked_at,omitzero"`
	// SignedInAt is set on a route host's session: when the person signed
	// in, i.e. the CreatedAt (or SignedInAt) of the console session it was
	// handed off from (its own CreatedAt is the hand-off). Policies'
	// session_max_age compares against it.
	SignedInAt time.Time `json:"signed_in_at,omitzero"`
	// WebAuthnAt is when this session last completed a WebAuthn ceremony
	// with a security key or passkey (purpose "mfa"): at sign-in, or by a
	// step-up. MFAAt says a second factor was used; WebAuthnAt says it was
	// a phishing-resistant one, which console roles require.
	WebAuthnAt time.Time `json:"webauthn_at,omitzero"`
	// Roles are the console roles the identity provider's groups mapped to
	// at sign-in (config: identity_providers[].roles); they are recomputed
	// at every sign-in and refresh, so removing the group removes the role.
	Roles []string `json:"roles,omitempty"`
}

// User is a person known to Portier: a local account or an IdP identity
// seen at sign-in (see IdentityLink for how a provider's identity reaches
// it).
type User struct {
	ID string `json:"id"`
	// Email is in the form of mailaddr.Normalize (accounts stored before
	// that rule may differ in ASCII case); it is unique under mailaddr.Fold.
	Email        string    `json:"email"`
	Name         string    `json:"name,omitempty"`
	Role         string    `json:"role,omitempty"` // console role; empty = none
	Groups       []string  `json:"groups,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// KeyReset is the id of the re-registration link (an Invite of purpose
	// InviteKeyReset) the help desk issued when it reset the person's
	// security keys; while set, the person registers a new key only
	// through that link.
	KeyReset string `json:"key_reset,omitempty"`
}

// Token is an API token. ID is public; only the SHA-256 of the secret is kept.
// A token belongs to a person (OwnerID) or to a named service account
// (ServiceAccount); tokens made before owners existed have neither.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	SecretHash string    `json:"secret_hash"`
	CreatedBy  string    `json:"created_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	// OwnerID and OwnerEmail name the person the token acts for.
	OwnerID    string `json:"owner_id,omitempty"`
	OwnerEmail string `json:"owner_email,omitempty"`
	// ServiceAccount names the automation the token acts for (e.g. "ci").
	ServiceAccount string `json:"service_account,omitempty"`
}

// Invite is a one-time link to create an account with a role (the first-run
// setup link is an invite for the owner). Only the SHA-256 of the secret is kept.
type Invite struct {
	ID        string    `json:"id"` // SHA-256 of the secret, hex
	Role      string    `json:"role"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	// CreatedBy is the audit actor who sent the invitation ("" for the
	// first-run set-up link).
	CreatedBy string `json:"created_by,omitempty"`
	// Purpose is "" for an invitation to a role (or the set-up link) and
	// InviteKeyReset for the one-time re-registration link of a security
	// key reset, which belongs to the account UserID.
	Purpose string `json:"purpose,omitempty"`
	UserID  string `json:"user_id,omitempty"`
}

// InviteKeyReset is the Purpose of a security-key re-registration link.
const InviteKeyReset = "key_reset"

// Blob is named opaque data: sealed CA keys, the current CRL, signing keys.
type Blob struct {
	ID   string `json:"id"`
	Data []byte `json:"data"`
}

func (*Device) Kind() Kind      { return KindDevice }
func (*Certificate) Kind() Kind { return KindCertificate }
func (*Revocation) Kind() Kind  { return KindRevocation }
func (*Session) Kind() Kind     { return KindSession }
func (*User) Kind() Kind        { return KindUser }
func (*Token) Kind() Kind       { return KindToken }
func (*Invite) Kind() Kind      { return KindInvite }
func (*Blob) Kind() Kind        { return KindBlob }

func (r *Device) Key() string      { return r.ID }
func (r *Certificate) Key() string { return r.ID }
func (r *Revocation) Key() string  { return r.ID }
func (r *Session) Key() string     { return r.ID }
func (r *User) Key() string        { return r.ID }
func (r *Token) Key() string       { return r.ID }
func (r *Invite) Key() string      { return r.ID }
func (r *Blob) Key() string        { return r.ID }

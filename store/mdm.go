package store

import (
	"encoding/json"
	"time"
)

// Kinds of the MDM core.
const (
	KindPosture        Kind = "posture"
	KindEnrollCode     Kind = "enrollcode"
	KindExpectedDevice Kind = "expected"
	KindAction         Kind = "action"
	KindDeviceEvent    Kind = "devevent"
)

// Posture is a device's latest accepted posture report: the signals its
// data profile allows, as the server kept them. ID is the device id.
type Posture struct {
	ID         string          `json:"id"`
	ReportedAt time.Time       `json:"reported_at"` // server receive time
	ReportSeq  uint64          `json:"report_seq"`  // the agent's counter: older or equal reports are replays
	Signals    json.RawMessage `json:"signals"`     // []collect.Signal, already filtered by the profile
	// External signals fed by another MDM/EDR, by source name.
	External map[string]json.RawMessage `json:"external,omitempty"`
}

// EnrollCode is an enrollment code or bulk token. ID is the SHA-256 of the
// code. A code is single-use (MaxUses 1); a bulk token has MaxUses > 1 and
// each use is a Claim "enroll/<id>/<n>".
type EnrollCode struct {
	ID           string    `json:"id"`
	Ownership    Ownership `json:"ownership"`
	UserEmail    string    `json:"user_email,omitempty"` // bound user, if any
	Name         string    `json:"name,omitempty"`
	MaxUses      int       `json:"max_uses"`
	ExpectedOnly bool      `json:"expected_only,omitempty"` // only serials in the expected-device list may use it
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	Revoked      bool      `json:"revoked,omitempty"`
}

// ExpectedDevice is a pre-registered device from an inventory import,
// matched by hardware serial when it enrolls. ID is the serial.
type ExpectedDevice struct {
	ID         string    `json:"id"`
	Model      string    `json:"model,omitempty"`
	Platform   string    `json:"platform,omitempty"`
	OwnerEmail string    `json:"owner_email,omitempty"`
	Department string    `json:"department,omitempty"`
	Ownership  Ownership `json:"ownership,omitempty"`
	Groups     []string  `json:"groups,omitempty"`
	ImportedAt time.Time `json:"imported_at"`
	EnrolledAs string    `json:"enrolled_as,omitempty"` // device id once matched
	// TPMEKSHA256 binds the device to its TPM: the lower-case hex SHA-256
	// of the TPM endorsement key's public key in PKIX DER
	// (SubjectPublicKeyInfo), from procurement. When set, only an
	// enrollment with a verified TPM attestation by that endorsement key
	// matches this device; an attested endorsement key matches it whatever
	// serial the agent reports.
	TPMEKSHA256 string `json:"tpm_ek_sha256,omitempty"`
}

// Action statuses.
const (
	ActionQueued       = "queued"
	ActionDelivered    = "delivered"
	ActionAcknowledged = "acknowledged"
	ActionFailed       = "failed"
	ActionExpired      = "expired"
)

// Action is a remote action for a device (lock, wipe, selective wipe,
// message, recollect; revoke and quarantine act on the server).
type Action struct {
	ID             string            `json:"id"`
	DeviceID       string            `json:"device_id"`
	Type           string            `json:"type"`
	Params         map[string]string `json:"params,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Status         string            `json:"status"`
	RequestedBy    string            `json:"requested_by"`
	RequestedAt    time.Time         `json:"requested_at"`
	DeliveredAt    time.Time         `json:"delivered_at,omitzero"`
	DoneAt         time.Time         `json:"done_at,omitzero"` // acknowledged, failed or expired
	ExpiresAt      time.Time         `json:"expires_at"`
	Result         string            `json:"result,omitempty"`
}

// DeviceEvent is one entry of a device's history: lifecycle changes,
// compliance escalation steps, actions. ID sorts by time.
type DeviceEvent struct {
	ID       string            `json:"id"`
	DeviceID string            `json:"device_id"`
	At       time.Time         `json:"at"`
	Type     string            `json:"type"`
	Detail   map[string]string `json:"detail,omitempty"`
}

func (*Posture) Kind() Kind        { return KindPosture }
func (*EnrollCode) Kind() Kind     { return KindEnrollCode }
func (*ExpectedDevice) Kind() Kind { return KindExpectedDevice }
func (*Action) Kind() Kind         { return KindAction }
func (*DeviceEvent) Kind() Kind    { return KindDeviceEvent }

func (r *Posture) Key() string        { return r.ID }
func (r *EnrollCode) Key() string     { return r.ID }
func (r *ExpectedDevice) Key() string { return r.ID }
func (r *Action) Key() string         { return r.ID }
func (r *DeviceEvent) Key() string    { return r.ID }

// Posture returns a device's latest posture.
func (s *Store) Posture(deviceID string) (*Posture, bool) {
	return first[Posture](s.Txn(), KindPosture, "id", deviceID)
}

// EnrollCode returns an enrollment code by id (hash).
func (s *Store) EnrollCode(id string) (*EnrollCode, bool) {
	return first[EnrollCode](s.Txn(), KindEnrollCode, "id", id)
}

// EnrollCodes returns every enrollment code and bulk token.
func (s *Store) EnrollCodes() []*EnrollCode { return all[EnrollCode](s.Txn(), KindEnrollCode, "id") }

// ExpectedDevice returns a pre-registered device by serial.
func (s *Store) ExpectedDevice(serial string) (*ExpectedDevice, bool) {
	return first[ExpectedDevice](s.Txn(), KindExpectedDevice, "id", serial)
}

// ExpectedDeviceByEK returns the pre-registered device bound to the TPM
// endorsement key whose SHA-256 is ekSHA256 (see
// ExpectedDevice.TPMEKSHA256).
func (s *Store) ExpectedDeviceByEK(ekSHA256 string) (*ExpectedDevice, bool) {
	if ekSHA256 == "" {
		return nil, false
	}
	return first[ExpectedDevice](s.Txn(), KindExpectedDevice, "ek", ekSHA256)
}

// ExpectedDevices returns the pre-registered devices.
func (s *Store) ExpectedDevices() []*ExpectedDevice {
	return all[ExpectedDevice](s.Txn(), KindExpectedDevice, "id")
}

// Action returns a remote action by id.
func (s *Store) Action(id string) (*Action, bool) {
	return first[Action](s.Txn(), KindAction, "id", id)
}

// ActionsOf returns a device's actions.
func (s *Store) ActionsOf(deviceID string) []*Action {
	return all[Action](s.Txn(), KindAction, "device", deviceID)
}

// ActionByIdempotencyKey returns the action created with an idempotency key.
func (s *Store) ActionByIdempotencyKey(key string) (*Action, bool) {
	return first[Action](s.Txn(), KindAction, "idem", key)
}

// Actions returns every action (for KPIs and retention).
func (s *Store) Actions() []*Action { return all[Action](s.Txn(), KindAction, "id") }

// DeviceEvents returns a device's history, oldest first.
func (s *Store) DeviceEvents(deviceID string) []*DeviceEvent {
	return all[DeviceEvent](s.Txn(), KindDeviceEvent, "device", deviceID)
}

// AllDeviceEvents returns every device event (for retention).
func (s *Store) AllDeviceEvents() []*DeviceEvent {
	return all[DeviceEvent](s.Txn(), KindDeviceEvent, "id")
}

// Postures returns every device's posture (for retention and rollups).
func (s *Store) Postures() []*Posture { return all[Posture](s.Txn(), KindPosture, "id") }

// NewDeviceEvent returns a history entry for a device at time at.
func NewDeviceEvent(at time.Time, deviceID, typ string, detail map[string]string) *DeviceEvent {
	return &DeviceEvent{ID: TimeID(at), DeviceID: deviceID, At: at.UTC(), Type: typ, Detail: detail}
}

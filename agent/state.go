package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrNotEnrolled is returned when the state directory holds no enrollment.
var ErrNotEnrolled = errors.New("this device is not enrolled: run `portier agent enroll` first")

// State is what the agent remembers between runs, in state.json.
type State struct {
	Server        string    `json:"server"`
	DeviceID      string    `json:"device_id"`
	Ownership     string    `json:"ownership"`
	WorkProfile   bool      `json:"work_profile,omitempty"`
	CAFingerprint string    `json:"ca_fingerprint"`
	EnrolledAt    time.Time `json:"enrolled_at"`
	NotAfter      time.Time `json:"not_after"`
	RenewAfter    time.Time `json:"renew_after"`
	// KeyProtection is where the device key is ("hardware": in the TPM,
	// device.key holding the TPM's wrapped blob; "software": device.key
	// holding the key), as the agent told the server at enrollment;
	// KeyProtectionSource what the certificate says of it ("tpm_attested"
	// when the server verified the TPM, "agent_claim" when it took the
	// agent's word); KeyNote why the key is not in the TPM, or why the
	// server did not verify it. KeyHardware is the key hardware found on
	// the machine at enrollment (DetectKeyHardware).
	KeyProtection       string `json:"key_protection,omitempty"`
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
	KeyNote             string `json:"key_note,omitempty"`
	KeyHardware         string `json:"key_hardware,omitempty"`
	// Seq is the sequence number of the last posture report sent. It is
	// saved before the report goes out, so it never repeats.
	Seq uint64 `json:"seq"`
	// LastDigest identifies the signal values last sent, to send again
	// early when something changed.
	LastDigest string    `json:"last_digest,omitempty"`
	LastSent   time.Time `json:"last_sent,omitzero"`
}

// loadState reads dir's state.json.
func loadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("agent: read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("agent: %s is corrupt: %w", filepath.Join(dir, StateFile), err)
	}
	if s.Server == "" || s.DeviceID == "" {
		return nil, fmt.Errorf("agent: %s is incomplete; enroll again", filepath.Join(dir, StateFile))
	}
	return &s, nil
}

// save writes the state durably (0600: it names the server and device).
func (s *State) save(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, StateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("agent: save state: %w", err)
	}
	return nil
}

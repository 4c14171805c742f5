package agent

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/portier/portier/agentwire"
)

// Status is what `portier agent status` shows: the enrollment, the
// certificate, where the device identity is installed, the last posture
// report and the actions not finished. It is read from the state
// directory only; nothing is asked of the server.
type Status struct {
	Enrolled    bool      `json:"enrolled"`
	Dir         string    `json:"dir"`
	Server      string    `json:"server,omitempty"`
	DeviceID    string    `json:"device_id,omitempty"`
	Ownership   string    `json:"ownership,omitempty"`
	WorkProfile bool      `json:"work_profile,omitempty"`
	EnrolledAt  time.Time `json:"enrolled_at,omitzero"`
	// KeyProtection is where the device key is: "hardware" (in the TPM;
	// device.key holds the TPM's wrapped blob) or "software" (device.key
	// holds the key), read from device.key itself. KeyProtectionSource is
	// what the certificate says of it ("tpm_attested": the server verified
	// the TPM; "agent_claim": it took the agent's word), KeyNote why the
	// key is not in the TPM or why the server did not verify it, and Key
	// all of it in one line for people. KeyHardware is the key hardware
	// found on the machine at enrollment ("" none).
	KeyProtection       string `json:"key_protection,omitempty"`
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
	KeyNote             string `json:"key_note,omitempty"`
	Key                 string `json:"key,omitempty"`
	KeyHardware         string `json:"key_hardware,omitempty"`
	// BrowserKey is the key the browsers get, in one line: the device key
	// itself, or, when that is in the TPM, the software browser key with
	// its own certificate.
	BrowserKey string `json:"browser_key,omitempty"`
	// Certificate is the device certificate on disk.
	Certificate *CertStatus `json:"certificate,omitempty"`
	// Browser is where the device identity is installed, per store and
	// user, with the errors of the last installation.
	Browser BrowserRecord `json:"browser"`
	// UserImports say, for each identity handed to a person's Windows
	// logon task (windows-user-task), whether that task has imported it.
	UserImports []UserImportStatus `json:"user_imports,omitempty"`
	// LastPosture is the last posture report sent.
	LastPosture PostureStatus `json:"last_posture"`
	// PendingActions are remote actions started and not finished (the
	// agent stopped while running them).
	PendingActions []PendingAction `json:"pending_actions"`
}

// CertStatus describes the device certificate.
type CertStatus struct {
	Serial     string    `json:"serial"`
	Issuer     string    `json:"issuer"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	RenewAfter time.Time `json:"renew_after,omitzero"`
	Expired    bool      `json:"expired"`
}

// PostureStatus is the last posture report sent.
type PostureStatus struct {
	Seq    uint64    `json:"seq"`
	SentAt time.Time `json:"sent_at,omitzero"`
}

// PendingAction is a remote action the journal shows as started only.
type PendingAction struct {
	ID        string    `json:"id"`
	StartedAt time.Time `json:"started_at"`
}

// ReadStatus reads the status of the enrollment under stateDir at now.
// A directory without an enrollment is a status with Enrolled false.
func ReadStatus(stateDir string, now time.Time) (*Status, error) {
	dir := profileDir(stateDir)
	s := &Status{Dir: dir, PendingActions: []PendingAction{}}
	rec, err := loadBrowserRecord(dir)
	if err != nil {
		return nil, err
	}
	s.Browser = *rec
	s.UserImports = readUserImports(rec)
	if s.Browser.Placements == nil {
		s.Browser.Placements = []Placement{}
	}
	st, err := loadState(dir)
	if errors.Is(err, ErrNotEnrolled) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	s.Enrolled, s.Server, s.DeviceID, s.Ownership, s.WorkProfile, s.EnrolledAt = true, st.Server, st.DeviceID, st.Ownership, st.WorkProfile, st.EnrolledAt
	s.LastPosture = PostureStatus{Seq: st.Seq, SentAt: st.LastSent}
	s.KeyProtection, s.KeyHardware = agentwire.KeySoftware, st.KeyHardware
	s.KeyProtectionSource, s.KeyNote = st.KeyProtectionSource, st.KeyNote
	if b, err := os.ReadFile(filepath.Join(dir, KeyFile)); err == nil {
		if blk, _ := pem.Decode(b); blk != nil && blk.Type == pemTPMKey {
			s.KeyProtection = agentwire.KeyHardware
		}
	}
	s.Key = DescribeKey(s.KeyProtection, s.KeyProtectionSource, s.KeyNote)
	s.BrowserKey = describeBrowserKey(dir, s.KeyProtection, now)
	if b, err := os.ReadFile(filepath.Join(dir, CertFile)); err == nil {
		if blk, _ := pem.Decode(b); blk != nil {
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				s.Certificate = &CertStatus{Serial: c.SerialNumber.String(), Issuer: c.Issuer.CommonName,
					NotBefore: c.NotBefore, NotAfter: c.NotAfter, RenewAfter: st.RenewAfter, Expired: !now.Before(c.NotAfter)}
			}
		}
	}
	j, err := openJournal(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, err
	}
	for id, e := range j.entries {
		if e.State != journalDone {
			s.PendingActions = append(s.PendingActions, PendingAction{ID: id, StartedAt: e.At})
		}
	}
	slices.SortFunc(s.PendingActions, func(a, b PendingAction) int { return a.StartedAt.Compare(b.StartedAt) })
	return s, nil
}

// DescribeKey says, for people, where the device key is and who vouches
// for it.
func DescribeKey(protection, source, note string) string {
	if protection == agentwire.KeyHardware {
		if source == keySourceTPM {
			return "hardware (TPM 2.0, attested by the server)"
		}
		if note == "" {
			note = "no attestation was recorded"
		}
		return "hardware (TPM 2.0, the server could not verify the TPM: " + note + ")"
	}
	d := "software (device.key in the state directory)"
	if note != "" {
		d += "; " + note
	}
	return d
}

// describeBrowserKey says which key the browsers get.
func describeBrowserKey(dir, protection string, now time.Time) string {
	if protection != agentwire.KeyHardware {
		return "the device key itself (software, copied into the browser stores)"
	}
	d := "software (browser.key in the state directory, its own certificate: a TPM key cannot be copied into a browser store)"
	b, err := os.ReadFile(filepath.Join(dir, BrowserCrtFile))
	if err != nil {
		return d + "; no certificate yet"
	}
	certs, err := parseChain(b, BrowserCrtFile)
	if err != nil {
		return d + "; " + err.Error()
	}
	state := "valid until "
	if !now.Before(certs[0].NotAfter) {
		state = "EXPIRED on "
	}
	return d + "; certificate serial " + certs[0].SerialNumber.String() + ", " + state + certs[0].NotAfter.UTC().Format(time.RFC3339)
}

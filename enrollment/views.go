package enrollment

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

// maxHistory bounds the history entries a device view carries.
const maxHistory = 200

// DeviceFilter selects devices in the inventory; empty fields match all.
type DeviceFilter struct {
	State     store.DeviceState
	Ownership store.Ownership
	Owner     string // owner email, case-insensitive
	Serial    string
	// Pending keeps only devices whose ownership waits for approval.
	Pending bool
	// Query is a case-insensitive substring of the hostname, serial, owner
	// e-mail, id or name.
	Query        string
	Platform     string // case-insensitive
	Trust        *store.Trust
	Compliant    *bool
	FailingCheck string // the name of a check the device fails
	Department   string // case-insensitive
	// LastSeenBefore and LastSeenAfter bound the last check-in (exclusive;
	// zero = no bound).
	LastSeenBefore, LastSeenAfter time.Time
}

// Devices lists the inventory, newest enrollment first.
func (s *Service) Devices(f DeviceFilter) []*store.Device {
	var out []*store.Device
	m := f.matcher()
	for _, d := range s.st.Devices() {
		if m(d) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EnrolledAt.After(out[j].EnrolledAt) })
	return out
}

// PostureView is a device's latest accepted posture.
type PostureView struct {
	ReportedAt time.Time                  `json:"reported_at"`
	ReportSeq  uint64                     `json:"report_seq"`
	Signals    json.RawMessage            `json:"signals"`
	External   map[string]json.RawMessage `json:"external,omitempty"`
}

// DeviceDetail is one device with its posture, recent actions and history.
type DeviceDetail struct {
	*store.Device
	Posture *PostureView         `json:"posture,omitempty"`
	Actions []*store.Action      `json:"actions"`
	History []*store.DeviceEvent `json:"history"`
	// Certificates are every certificate issued to the device (the agent's
	// and its browser certificates), newest first.
	Certificates []CertificateView `json:"certificates"`
}

// CertificateView is one certificate of a device as the device API shows
// it: what it is for, for whom, and what Portier knows of its key.
type CertificateView struct {
	Serial              string    `json:"serial"`
	Purpose             string    `json:"purpose"`
	Person              string    `json:"person,omitempty"`
	KeyProtection       string    `json:"key_protection"`
	KeyProtectionSource string    `json:"key_protection_source,omitempty"`
	NotBefore           time.Time `json:"not_before"`
	NotAfter            time.Time `json:"not_after"`
	Revoked             bool      `json:"revoked,omitempty"`
}

// ViewCertificate is a certificate record as the API and the console show
// it: records written before purposes existed are the agent's, and any
// key protection but hardware is software.
func ViewCertificate(c *store.Certificate, revoked bool) CertificateView {
	v := CertificateView{Serial: c.ID, Purpose: c.Purpose, Person: c.Person, KeyProtection: store.KeySoftware,
		KeyProtectionSource: c.KeyProtectionSource, NotBefore: c.NotBefore, NotAfter: c.NotAfter, Revoked: revoked}
	if v.Purpose == "" {
		v.Purpose = ca.PurposeAgent
	}
	if c.KeyProtection == store.KeyHardware {
		v.KeyProtection = store.KeyHardware
	}
	return v
}

// Device returns a device with its posture, actions and history (the most
// recent entries, oldest first).
func (s *Service) Device(id string) (*DeviceDetail, error) {
	d, err := s.device(id)
	if err != nil {
		return nil, err
	}
	v := &DeviceDetail{Device: d, History: s.st.DeviceEvents(id)}
	if len(v.History) > maxHistory {
		v.History = v.History[len(v.History)-maxHistory:]
	}
	if v.History == nil {
		v.History = []*store.DeviceEvent{}
	}
	if v.Actions, err = s.Actions(id); err != nil {
		return nil, err
	}
	if p, ok := s.st.Posture(id); ok {
		v.Posture = &PostureView{ReportedAt: p.ReportedAt, ReportSeq: p.ReportSeq, Signals: p.Signals, External: p.External}
	}
	certs, err := s.Certificates(id)
	if err != nil {
		return nil, err
	}
	v.Certificates = make([]CertificateView, 0, len(certs))
	for _, c := range certs {
		v.Certificates = append(v.Certificates, ViewCertificate(c, s.Revoked(c.ID)))
	}
	return v, nil
}

package agentwire

import (
	"time"

	"github.com/portier/portier/posture/collect"
)

// MaxPostureReportBytes bounds a PostureReport body; the server answers
// 413 above it. A corporate Linux desktop with its package inventory sends
// about 50 KiB.
const MaxPostureReportBytes = 256 << 10

// PostureReport is the body of POST /api/v1/agent/posture. Seq is the
// agent's counter, from 1 and growing with every report: the server ignores
// a report whose Seq is not above the last one it accepted (a replay).
type PostureReport struct {
	Seq         uint64           `json:"seq"`
	CollectedAt time.Time        `json:"collected_at"`
	TimeZone    string           `json:"time_zone,omitempty"`
	Signals     []collect.Signal `json:"signals"`
}

// PostureResult is the answer to a posture report.
type PostureResult struct {
	Accepted bool `json:"accepted"`
	// Replay is set when the report was ignored because its seq is not
	// newer than the last accepted one; LastSeq is that one.
	Replay  bool   `json:"replay,omitempty"`
	LastSeq uint64 `json:"last_seq,omitempty"`
	// Dropped counts signals the server discarded because the device's
	// data profile does not allow them.
	Dropped int `json:"dropped"`
}

// Profile is the answer to GET /api/v1/agent/profile: what the agent may
// collect (the signals its device's data profile allows), how often, and
// the privacy notice to show the person using the device.
type Profile struct {
	DeviceID    string `json:"device_id"`
	Ownership   string `json:"ownership"`
	WorkProfile bool   `json:"work_profile,omitempty"`
	State       string `json:"state"`
	// Allowed is the sorted list of signal names the agent may collect.
	Allowed  []string      `json:"allowed_signals"`
	Location *LocationRule `json:"location,omitempty"`
	// PostureInterval is a Go duration ("15m0s").
	PostureInterval string  `json:"posture_interval"`
	Privacy         *Notice `json:"privacy,omitempty"`
	// PrivacyText is Privacy as plain text, for `portier agent privacy`.
	PrivacyText string `json:"privacy_text,omitempty"`
}

// LocationRule is when, why and for how long the device's location may be
// collected.
type LocationRule struct {
	Purpose   string   `json:"purpose"`
	Days      []string `json:"days"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Retention string   `json:"retention"`
}

// Notice is the device's privacy notice: what is collected, what never is,
// and what the organization can do.
type Notice struct {
	Lang         string        `json:"lang"` // "en" or "fr"
	DeviceID     string        `json:"device_id"`
	Ownership    string        `json:"ownership"`
	WorkProfile  bool          `json:"work_profile,omitempty"`
	Title        string        `json:"title"`
	Summary      string        `json:"summary"`
	Collected    []NoticeGroup `json:"collected"`
	NotCollected []string      `json:"not_collected"`
	Location     string        `json:"location"`
	Retention    []string      `json:"retention"`
	Actions      []string      `json:"actions"` // what the organization can do remotely
	Rights       string        `json:"rights"`
	Contact      string        `json:"contact,omitempty"`
	Signals      []string      `json:"signals"` // the exact signal names allowed
}

// NoticeGroup is one category of collected data, with its items in plain
// words.
type NoticeGroup struct {
	Group string   `json:"group"`
	Title string   `json:"title"`
	Why   string   `json:"why"`
	Items []string `json:"items"`
}

package store

import (
	"context"
	"errors"
	"time"
)

// Dimensions a KPI snapshot is broken down by. DimFleet is the whole fleet
// (its Value is "").
const (
	DimFleet      = ""
	DimDepartment = "department"
	DimGroup      = "group"
	DimPlatform   = "platform"
	DimOwnership  = "ownership"
	DimWave       = "wave"
)

// KPISnapshot is the fleet's rollout figures on one day (UTC) for one
// dimension value: the counts each KPI is computed from, so that trends
// and past months read what was true then.
type KPISnapshot struct {
	Day       time.Time `json:"day"` // midnight UTC
	Dimension string    `json:"dimension"`
	Value     string    `json:"value"`
	TakenAt   time.Time `json:"taken_at"`
	Counts    KPICounts `json:"counts"`
}

// KPICounts are the counts of one snapshot.
type KPICounts struct {
	// Devices is the managed fleet: active and quarantined devices.
	Devices int `json:"devices"`
	// Expected devices (pre-registered) and how many of them enrolled.
	Expected         int `json:"expected"`
	ExpectedEnrolled int `json:"expected_enrolled"`
	// Compliant managed devices; Encrypted of EncryptionKnown (devices
	// whose posture reports disk encryption at all).
	Compliant       int `json:"compliant"`
	Encrypted       int `json:"encrypted"`
	EncryptionKnown int `json:"encryption_known"`
	// Trust counts managed devices by trust level; OSVersions by
	// "platform version" (the most common, the rest under "other");
	// UpdatesBehind by days behind on security updates (UpdateBuckets).
	Trust         map[string]int `json:"trust"`
	OSVersions    map[string]int `json:"os_versions"`
	UpdatesBehind map[string]int `json:"updates_behind"`
	// Provisioning (pre-registration or code to first compliant check-in)
	// of the devices provisioned in the window before the snapshot.
	Provisioned     int     `json:"provisioned"`
	ProvisionMedian float64 `json:"provision_median_seconds"`
	ProvisionP90    float64 `json:"provision_p90_seconds"`
	// Lock and wipe (full or selective) request to acknowledgement, of
	// those acknowledged in the window.
	Locks         int     `json:"locks"`
	LockAckMedian float64 `json:"lock_ack_median_seconds"`
	Wipes         int     `json:"wipes"`
	WipeAckMedian float64 `json:"wipe_ack_median_seconds"`
	// Access decisions in the 24 hours before the snapshot, with the top
	// deny reasons.
	Allowed24h  uint64        `json:"allowed_24h"`
	Denied24h   uint64        `json:"denied_24h"`
	DenyReasons []ReasonCount `json:"deny_reasons"`
	// Attention counts managed devices that are not compliant, are
	// quarantined, untrusted or silent; OpenActions the queued or
	// delivered remote actions.
	Attention   int `json:"attention"`
	OpenActions int `json:"open_actions"`
}

// Buckets of days behind on security updates (KPICounts.UpdatesBehind).
const (
	UpdatesCurrent = "0"
	UpdatesWeek    = "1-7"
	UpdatesMonth   = "8-30"
	UpdatesOld     = "31+"
	UpdatesUnknown = "unknown"
)

// UpdateBuckets are the UpdatesBehind buckets in order.
var UpdateBuckets = []string{UpdatesCurrent, UpdatesWeek, UpdatesMonth, UpdatesOld, UpdatesUnknown}

// UpdateBucket names the bucket of a number of days behind.
func UpdateBucket(days int64) string {
	switch {
	case days <= 0:
		return UpdatesCurrent
	case days <= 7:
		return UpdatesWeek
	case days <= 30:
		return UpdatesMonth
	}
	return UpdatesOld
}

// KPISnapshotQuery selects snapshots: days from Since's day to before
// Until (zero: no bound) of one series (Dimension and Value; the zero values are the whole
// fleet), or of every series when AllSeries is set.
type KPISnapshotQuery struct {
	Since, Until     time.Time
	Dimension, Value string
	AllSeries        bool
}

// Match reports whether s is selected by q.
func (q KPISnapshotQuery) Match(s *KPISnapshot) bool {
	if !q.Since.IsZero() && s.Day.Before(Day(q.Since)) {
		return false
	}
	if !q.Until.IsZero() && !s.Day.Before(q.Until) {
		return false
	}
	return q.AllSeries || (s.Dimension == q.Dimension && s.Value == q.Value)
}

// KPISnapshotLog is a Backend that keeps daily KPI snapshots apart from the
// records: they only grow, are never loaded into the read model and are
// read by day range. Both durable backends implement it.
type KPISnapshotLog interface {
	// PutKPISnapshots stores snapshots, replacing any stored with the same
	// day, dimension and value, so that taking a day twice is harmless.
	PutKPISnapshots(ctx context.Context, snaps []*KPISnapshot) error
	// QueryKPISnapshots returns the snapshots matching q, oldest day first
	// (then by dimension and value).
	QueryKPISnapshots(ctx context.Context, q KPISnapshotQuery) ([]*KPISnapshot, error)
}

// ErrNoKPISnapshots is returned when the backend keeps no KPI snapshots.
var ErrNoKPISnapshots = errors.New("store: this backend keeps no KPI snapshots")

// KPISnapshots is the backend's KPI snapshot log.
func (s *Store) KPISnapshots() (KPISnapshotLog, error) {
	l, ok := s.be.(KPISnapshotLog)
	if !ok {
		return nil, ErrNoKPISnapshots
	}
	return l, nil
}

// Day is t's day: midnight UTC.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

package config

import "time"

// Defaults of the approvals section.
const (
	DefaultApprovalBulkThreshold = 10
	DefaultApprovalTTL           = 24 * time.Hour
)

// Approvals configures two-person approval of destructive fleet actions
// (docs/devices.md): a full wipe, a retire, and an action on more than
// BulkThreshold devices wait for a second person. BulkThreshold and
// Disabled are the starting values: once changed at run time (PUT
// /api/v1/approvals/settings, where lowering protection itself needs a
// second person's approval), the stored values take precedence.
type Approvals struct {
	// BulkThreshold is the number of devices above which one action needs
	// approval (default 10).
	BulkThreshold int `yaml:"bulk_threshold"`
	// Expiry is how long a request waits for its approval (default 24h).
	Expiry *Duration `yaml:"expiry"`
	// Disabled turns two-person approval off: destructive actions run at
	// the first administrator's request, as for an organization with a
	// single administrator. The server logs a warning at start.
	Disabled bool `yaml:"disabled"`
}

// BulkThresholdOrDefault is BulkThreshold, or the default when unset.
func (a Approvals) BulkThresholdOrDefault() int {
	if a.BulkThreshold == 0 {
		return DefaultApprovalBulkThreshold
	}
	return a.BulkThreshold
}

// ExpiryOrDefault is Expiry, or DefaultApprovalTTL when unset.
func (a Approvals) ExpiryOrDefault() time.Duration {
	if a.Expiry == nil {
		return DefaultApprovalTTL
	}
	return time.Duration(*a.Expiry)
}

// validateApprovals checks the approvals section.
func (c *Config) validateApprovals() error {
	a := c.Approvals
	switch {
	case a.BulkThreshold < 0:
		return c.errAt("approvals.bulk_threshold must be a positive number of devices", []any{"approvals", "bulk_threshold"})
	case a.Expiry != nil && (time.Duration(*a.Expiry) < 5*time.Minute || time.Duration(*a.Expiry) > 30*24*time.Hour):
		return c.errAt("approvals.expiry must be between 5m and 720h", []any{"approvals", "expiry"})
	}
	return nil
}

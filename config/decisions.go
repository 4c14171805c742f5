package config

import "time"

// Defaults of the decisions section.
const (
	DefaultDecisionRetention = 30 * 24 * time.Hour
	DefaultDecisionMaxRows   = 20_000_000
	DefaultDecisionEntries   = 100_000
	DefaultDecisionFlush     = 5 * time.Second
)

// Decisions configures recorded access: the per-hour record of who reached
// which route from which device, kept for the decision explorer and the
// impact replay (docs/decisions.md).
type Decisions struct {
	// Record turns recording on (the default) or off.
	Record *bool `yaml:"record"`
	// Retention is how long records are kept (default 720h, 30 days).
	Retention *Duration `yaml:"retention"`
	// MaxRows bounds the stored records; the oldest go first (default
	// 20,000,000).
	MaxRows int `yaml:"max_rows"`
	// MaxEntries bounds the distinct records one replica holds in memory
	// between two flushes (default 100,000); past it decisions are counted
	// in portier_decision_records_overflow_total, not recorded.
	MaxEntries int `yaml:"max_entries"`
	// FlushInterval is how often a replica writes its records (default 5s).
	FlushInterval *Duration `yaml:"flush_interval"`
}

// Recording reports whether decisions are recorded.
func (d Decisions) Recording() bool { return d.Record == nil || *d.Record }

// RetentionOrDefault is Retention, or DefaultDecisionRetention when unset.
func (d Decisions) RetentionOrDefault() time.Duration {
	if d.Retention == nil {
		return DefaultDecisionRetention
	}
	return time.Duration(*d.Retention)
}

// MaxRowsOrDefault is MaxRows, or DefaultDecisionMaxRows when unset.
func (d Decisions) MaxRowsOrDefault() int {
	if d.MaxRows == 0 {
		return DefaultDecisionMaxRows
	}
	return d.MaxRows
}

// MaxEntriesOrDefault is MaxEntries, or DefaultDecisionEntries when unset.
func (d Decisions) MaxEntriesOrDefault() int {
	if d.MaxEntries == 0 {
		return DefaultDecisionEntries
	}
	return d.MaxEntries
}

// FlushOrDefault is FlushInterval, or DefaultDecisionFlush when unset.
func (d Decisions) FlushOrDefault() time.Duration {
	if d.FlushInterval == nil {
		return DefaultDecisionFlush
	}
	return time.Duration(*d.FlushInterval)
}

// validateDecisions checks the decisions section.
func (c *Config) validateDecisions() error {
	d := c.Decisions
	switch {
	case d.Retention != nil && time.Duration(*d.Retention) < time.Hour:
		return c.errAt("decisions.retention must be at least 1h", []any{"decisions", "retention"})
	case d.MaxRows < 0:
		return c.errAt("decisions.max_rows must be positive", []any{"decisions", "max_rows"})
	case d.MaxEntries < 0:
		return c.errAt("decisions.max_entries must be positive", []any{"decisions", "max_entries"})
	case d.FlushInterval != nil && (time.Duration(*d.FlushInterval) < 100*time.Millisecond || time.Duration(*d.FlushInterval) > time.Hour):
		return c.errAt("decisions.flush_interval must be between 100ms and 1h", []any{"decisions", "flush_interval"})
	}
	return nil
}

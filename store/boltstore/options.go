package boltstore

import (
	"log/slog"
	"time"
)

// Option changes how Open opens a store.
type Option func(*DB)

// WithLogger sends what Open does to the file (such as building the audit
// log's indexes) to log. Without it nothing is logged.
func WithLogger(log *slog.Logger) Option { return func(db *DB) { db.log = log } }

// WithClock makes the store read the time from now (what it logs as
// durations). Without it the store uses time.Now.
func WithClock(now func() time.Time) Option { return func(db *DB) { db.now = now } }

package store

import (
	"context"
	"errors"
)

// ErrNotEmpty is returned by Import when the backend already holds records:
// a restore never merges into existing state.
var ErrNotEmpty = errors.New("store is not empty")

// Snapshotter is a Backend that can stream a consistent snapshot for a
// backup. Both durable backends implement it.
type Snapshotter interface {
	// Snapshot reads every live record in one read transaction, ordered by
	// kind then id, followed by the audit log: its AuditChain record (when
	// the log was ever written) and its events in Seq order. begin is called once, before the first record, with the
	// sequence the snapshot is consistent at. An error from begin or fn
	// stops the snapshot and is returned as is. A Change's Value is only
	// valid during the call to fn.
	Snapshot(ctx context.Context, begin func(seq uint64) error, fn func(Change) error) error
}

// Importer is a Backend that can be filled from a backup. Both durable
// backends implement it.
type Importer interface {
	// Import writes every change next yields, until next returns io.EOF, in
	// one transaction. Audit events carrying a Seq are stored as they are,
	// after the AuditChain record; audit events without one are appended to
	// the chain, in the order they come: all of them or, on any error (including one from
	// next), none. It fails with an error wrapping ErrNotEmpty, before
	// writing anything, when the backend holds any record. Changes must
	// carry a Value; their Seq is ignored. Afterwards the change sequence
	// is at least seq, so the restored store continues the original's
	// numbering.
	Import(ctx context.Context, seq uint64, next func() (Change, error)) error
}

package store

import (
	"context"
	"errors"
)

// ErrExists is returned when a Create finds the record already there.
var ErrExists = errors.New("record already exists")

// ErrNotFound is returned when a record is not in the store.
var ErrNotFound = errors.New("record not found")

// Mutation is one durable write. A nil Value deletes the record.
type Mutation struct {
	Kind  Kind
	ID    string
	Value []byte
	// Create makes the write fail with ErrExists if the record is present,
	// for single-use codes and first-run set-up that several processes may race on.
	Create bool
	// Update makes the write fail with ErrNotFound if the record is absent,
	// so a background refresh can never bring back a record that was deleted
	// meanwhile (a signed-out session).
	Update bool
	// CheckVersion makes the write fail with ErrConflict unless the stored
	// record's version (see StoredVersion; 0 when absent) is IfVersion:
	// compare-and-set for records several replicas may edit at once.
	CheckVersion bool
	IfVersion    uint64
}

// Change is a committed mutation with the sequence number it got.
type Change struct {
	Seq     uint64
	Kind    Kind
	ID      string
	Value   []byte // nil when Deleted
	Deleted bool
}

// Backend is a durable store. Commit is atomic: all mutations or none.
// Sequence numbers are assigned in commit order and never reused.
type Backend interface {
	Commit(ctx context.Context, muts []Mutation) ([]Change, error)
	// Load calls fn for every live record and returns the sequence the
	// snapshot is consistent at.
	Load(ctx context.Context, fn func(Change) error) (uint64, error)
	// Ping reports whether the backend can serve reads and writes now.
	Ping(ctx context.Context) error
	Close() error
}

// Follower is a Backend shared by several processes. Each process catches up
// with Since, in sequence order, woken by Notify (which may drop wake-ups:
// they are hints, the sequence is the truth).
type Follower interface {
	Backend
	Since(ctx context.Context, seq uint64, limit int) ([]Change, error)
	Notify() <-chan struct{}
}

// ConcurrentLoader is a Backend whose Load may be read ahead of its use:
// the Values it hands fn stay valid after fn returns (they are the
// caller's), and an error fn returns needs no explanation added by the
// backend. Open decodes such a backend's records on several goroutines
// while Load is still reading (load.go); other backends are loaded one
// record at a time inside fn.
type ConcurrentLoader interface {
	Backend
	// ValuesOutliveLoad marks the backend; it does nothing.
	ValuesOutliveLoad()
}

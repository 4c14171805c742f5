// Package boltstore is Portier's embedded durable store: one bbolt file in
// the data dir, fsynced on every commit, locked against a second process.
package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// formatVersion is written in the meta bucket; a file from a newer format
// is refused rather than misread. Format 2 moved the audit events from a
// record bucket into the chained audit log (see audit.go).
const formatVersion = 2

var (
	metaBucket = []byte("meta")
	seqKey     = []byte("seq")
	formatKey  = []byte("format")
)

// DB is the embedded backend.
type DB struct {
	path string
	bolt *bolt.DB
	log  *slog.Logger
	now  func() time.Time
	// smallWindow is the audit query planner's smallTimeWindow (tests
	// lower it to reach every plan with a small log).
	smallWindow uint64
}

var _ store.Backend = (*DB)(nil)

// Open opens or creates the store file at path. It fails with a clear error
// when another process holds the file, when the file is corrupt, or when it
// was written by a newer Portier; it never rewrites a file it cannot read.
func Open(path string, opts ...Option) (_ *DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(path, fmt.Errorf("%v", r))
		}
	}()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)

	if fi, statErr := os.Stat(path); statErr == nil && fi.Size() < 4096*2 {
		// bbolt would initialise a 0-byte file as a new store: a truncated
		// file (a full disk, a bad copy) must not become an empty store
		// whose set-up link anyone may open first.
		return nil, corrupt(path, fmt.Errorf("file is only %d bytes", fi.Size()))
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("store: %s is locked: another portier process is using this data dir", path)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("store: cannot open %s: %w (check the data dir's owner and mode)", path, err)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
			errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
			return nil, corrupt(path, err)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{path: path, bolt: b, log: slog.New(slog.DiscardHandler), now: time.Now, smallWindow: smallTimeWindow}
	for _, o := range opts {
		o(db)
	}
	if err := db.init(); err != nil {
		b.Close()
		return nil, err
	}
	if err := db.buildAuditIndex(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

func corrupt(path string, cause error) error {
	return fmt.Errorf("store: %s is corrupt (%v); Portier did not modify it. "+
		"Restore it with `portier restore`, or move it aside to start with an empty store", path, cause)
}

func (db *DB) init() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := meta.Get(formatKey); v != nil {
			if len(v) != 8 {
				return corrupt(db.path, errors.New("bad format marker"))
			}
			if f := binary.BigEndian.Uint64(v); f > formatVersion {
				return fmt.Errorf("store: %s has format %d, written by a newer Portier (this one reads %d)", db.path, f, formatVersion)
			}
		}
		for _, k := range store.Kinds() {
			if _, err := tx.CreateBucketIfNotExists([]byte(k)); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucketIfNotExists(auditBucket); err != nil {
			return err
		}
		if err := createAuditIndexes(tx); err != nil {
			return err
		}
		if err := migrateLegacyAudit(tx); err != nil {
			return err
		}
		return meta.Put(formatKey, u64(formatVersion))
	})
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// Commit writes muts in one fsynced transaction.
func (db *DB) Commit(_ context.Context, muts []store.Mutation) ([]store.Change, error) {
	var changes []store.Change
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		var seq uint64
		if v := meta.Get(seqKey); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		changes = make([]store.Change, 0, len(muts))
		var audit [][]byte
		for _, m := range muts {
			if m.Kind == store.KindAudit || m.Kind == store.KindAuditChain {
				if m.Kind != store.KindAudit || m.Value == nil {
					return fmt.Errorf("store: %s/%s: the audit log is append-only", m.Kind, m.ID)
				}
				seq++
				audit = append(audit, m.Value)
				changes = append(changes, store.Change{Seq: seq, Kind: m.Kind, ID: m.ID, Value: m.Value})
				continue
			}
			b := tx.Bucket([]byte(m.Kind))
			if b == nil {
				return fmt.Errorf("store: unknown kind %q", m.Kind)
			}
			if m.Create && b.Get([]byte(m.ID)) != nil {
				return fmt.Errorf("%s/%s: %w", m.Kind, m.ID, store.ErrExists)
			}
			if m.Update && b.Get([]byte(m.ID)) == nil {
				return fmt.Errorf("%s/%s: %w", m.Kind, m.ID, store.ErrNotFound)
			}
			if err := store.CheckStoredVersion(m, b.Get([]byte(m.ID))); err != nil {
				return err
			}
			seq++
			c := store.Change{Seq: seq, Kind: m.Kind, ID: m.ID, Value: m.Value, Deleted: m.Value == nil}
			var err error
			if c.Deleted {
				err = b.Delete([]byte(m.ID))
			} else {
				err = b.Put([]byte(m.ID), m.Value)
			}
			if err != nil {
				return err
			}
			changes = append(changes, c)
		}
		if err := appendAudit(tx, audit); err != nil {
			return err
		}
		return meta.Put(seqKey, u64(seq))
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// Load reads every record in one read transaction.
func (db *DB) Load(_ context.Context, fn func(store.Change) error) (seq uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(db.path, fmt.Errorf("%v", r))
		}
	}()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metaBucket).Get(seqKey); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		for _, k := range store.Kinds() {
			if !store.InReadModel(k) {
				continue // history: read with Scan
			}
			err := tx.Bucket([]byte(k)).ForEach(func(id, v []byte) error {
				return fn(store.Change{Seq: seq, Kind: k, ID: string(id), Value: v})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return 0, corrupt(db.path, err)
	}
	return seq, err
}

// Ping reports whether the file is open.
func (db *DB) Ping(context.Context) error {
	if db.bolt.Path() == "" {
		return errors.New("store: closed")
	}
	return nil
}

// Close releases the file and its lock.
func (db *DB) Close() error { return db.bolt.Close() }

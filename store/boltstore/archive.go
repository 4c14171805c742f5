package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

var (
	_ store.Snapshotter = (*DB)(nil)
	_ store.Importer    = (*DB)(nil)
)

// sortedKinds is store.Kinds in a stable order, so snapshots are too.
func sortedKinds() []store.Kind {
	kinds := store.Kinds()
	slices.Sort(kinds)
	return kinds
}

// Snapshot streams every record from one bbolt read transaction. Writers
// keep committing meanwhile; only a commit that must grow the file's
// memory map waits for the snapshot to end.
func (db *DB) Snapshot(ctx context.Context, begin func(seq uint64) error, fn func(store.Change) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(db.path, fmt.Errorf("%v", r))
		}
	}()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	return db.bolt.View(func(tx *bolt.Tx) error {
		var seq uint64
		if v := tx.Bucket(metaBucket).Get(seqKey); len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		if err := begin(seq); err != nil {
			return err
		}
		for _, k := range sortedKinds() {
			err := tx.Bucket([]byte(k)).ForEach(func(id, v []byte) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return fn(store.Change{Seq: seq, Kind: k, ID: string(id), Value: v})
			})
			if err != nil {
				return err
			}
		}
		return snapshotAudit(ctx, tx, seq, fn)
	})
}

// Import fills an empty store in one fsynced transaction.
func (db *DB) Import(ctx context.Context, seq uint64, next func() (store.Change, error)) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := checkEmpty(tx); err != nil {
			return fmt.Errorf("store: %s: %w", db.path, err)
		}
		meta := tx.Bucket(metaBucket)
		var cur uint64
		if v := meta.Get(seqKey); len(v) == 8 {
			cur = binary.BigEndian.Uint64(v)
		}
		n := uint64(0)
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			c, err := next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if c.ID == "" || c.Value == nil {
				return fmt.Errorf("store: import: %s record without id or value", c.Kind)
			}
			if c.Kind == store.KindAudit || c.Kind == store.KindAuditChain {
				if err := importAudit(tx, c); err != nil {
					return err
				}
				n++
				continue
			}
			b := tx.Bucket([]byte(c.Kind))
			if b == nil {
				return fmt.Errorf("store: import: unknown kind %q", c.Kind)
			}
			// A backup comes sorted by kind and id: pack the pages.
			b.FillPercent = 0.9
			if b.Get([]byte(c.ID)) != nil {
				return fmt.Errorf("store: import: %s/%s appears twice", c.Kind, c.ID)
			}
			if err := b.Put([]byte(c.ID), c.Value); err != nil {
				return fmt.Errorf("store: import %s/%s: %w", c.Kind, c.ID, err)
			}
			n++
		}
		return meta.Put(seqKey, u64(max(cur+n, seq)))
	})
}

// checkEmpty fails with ErrNotEmpty, naming what is there, when any kind
// holds a record.
func checkEmpty(tx *bolt.Tx) error {
	var held []string
	for _, k := range sortedKinds() {
		if n := tx.Bucket([]byte(k)).Stats().KeyN; n > 0 {
			held = append(held, fmt.Sprintf("%d %s", n, k))
		}
	}
	if n := tx.Bucket(auditBucket).Stats().KeyN; n > 0 {
		held = append(held, fmt.Sprintf("%d audit", n))
	}
	if len(held) > 0 {
		return fmt.Errorf("%w: it holds %s records", store.ErrNotEmpty, strings.Join(held, ", "))
	}
	return nil
}

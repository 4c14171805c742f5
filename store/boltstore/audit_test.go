package boltstore_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// tamper edits the bbolt file's audit bucket directly.
var tamper = storetest.Tamper{
	Edit: func(t *testing.T, be store.Backend, seq uint64, edit func([]byte) []byte) {
		raw(t, be, func(b *bolt.Bucket) error {
			return b.Put(boltstore.Key(seq), edit(bytes.Clone(b.Get(boltstore.Key(seq)))))
		})
	},
	Delete: func(t *testing.T, be store.Backend, seq uint64) {
		raw(t, be, func(b *bolt.Bucket) error { return b.Delete(boltstore.Key(seq)) })
	},
	Swap: func(t *testing.T, be store.Backend, a, c uint64) {
		raw(t, be, func(b *bolt.Bucket) error {
			va, vc := bytes.Clone(b.Get(boltstore.Key(a))), bytes.Clone(b.Get(boltstore.Key(c)))
			if err := b.Put(boltstore.Key(a), vc); err != nil {
				return err
			}
			return b.Put(boltstore.Key(c), va)
		})
	},
}

func raw(t *testing.T, be store.Backend, fn func(*bolt.Bucket) error) {
	t.Helper()
	if err := boltstore.RawAudit(be.(*boltstore.DB), fn); err != nil {
		t.Fatal(err)
	}
}

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "portier.db")
		return func(t *testing.T) store.Backend {
			db, err := boltstore.Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
	}, tamper)
}

// A file written before the audit log existed (format 1) kept audit events
// as records; Open moves them into the chain, oldest first.
func TestAuditLegacyBucketMoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portier.db")
	old, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = old.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		if err := meta.Put([]byte("format"), []byte{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
			return err
		}
		b, _ := tx.CreateBucket([]byte("audit"))
		for i, action := range []string{"first", "second", "third"} {
			ev := store.NewAuditEvent(time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), "system", action, "")
			v, _ := store.Encode(ev)
			if err := b.Put([]byte(ev.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	old.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("Open of a format-1 file: %v", err)
	}
	defer db.Close()
	got, err := db.QueryAudit(context.Background(), store.AuditQuery{Ascending: true})
	if err != nil || len(got) != 3 || got[0].Action != "first" || got[2].Action != "third" || got[2].Prev != got[1].Hash {
		t.Fatalf("moved events = %+v, %v", got, err)
	}
}

package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

// The audit log is a bucket keyed by the event's position in the chain (8
// bytes, big-endian: commit order, which is time order), holding the sealed
// event's JSON. The chain's head and anchor are in the meta bucket.
var (
	auditBucket    = []byte("audit_log")
	legacyAudit    = []byte(store.KindAudit) // format 1 kept audit events as records
	auditHeadKey   = []byte("audit_head")
	auditAnchorKey = []byte("audit_anchor")
)

var _ store.AuditLog = (*DB)(nil)

func getLink(meta *bolt.Bucket, key []byte) (store.AuditLink, error) {
	var l store.AuditLink
	if v := meta.Get(key); v != nil {
		if err := json.Unmarshal(v, &l); err != nil {
			return l, fmt.Errorf("store: audit chain %s: %w", key, err)
		}
	}
	return l, nil
}

func putLink(meta *bolt.Bucket, key []byte, l store.AuditLink) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return meta.Put(key, b)
}

// appendAudit seals each event in values onto the chain, in order, and
// stores it.
func appendAudit(tx *bolt.Tx, values [][]byte) error {
	if len(values) == 0 {
		return nil
	}
	meta := tx.Bucket(metaBucket)
	head, err := getLink(meta, auditHeadKey)
	if err != nil {
		return err
	}
	complete := indexComplete(tx)
	b := tx.Bucket(auditBucket)
	for _, v := range values {
		ev, enc, err := store.SealAudit(v, head)
		if err != nil {
			return err
		}
		if err := b.Put(u64(ev.Seq), enc); err != nil {
			return err
		}
		if err := indexAudit(tx, ev.Seq, ev); err != nil {
			return err
		}
		head = store.AuditLink{Seq: ev.Seq, Hash: ev.Hash}
	}
	if complete {
		if err := meta.Put(auditIndexedKey, u64(head.Seq)); err != nil {
			return err
		}
	}
	return putLink(meta, auditHeadKey, head)
}

// migrateLegacyAudit moves the audit events a format-1 file kept as records
// into the chained log, oldest first (their ids sort by time).
func migrateLegacyAudit(tx *bolt.Tx) error {
	old := tx.Bucket(legacyAudit)
	if old == nil {
		return nil
	}
	var values [][]byte
	if err := old.ForEach(func(_, v []byte) error {
		values = append(values, bytes.Clone(v))
		return nil
	}); err != nil {
		return err
	}
	if err := appendAudit(tx, values); err != nil {
		return fmt.Errorf("store: move the audit events into the audit log: %w", err)
	}
	return tx.DeleteBucket(legacyAudit)
}

// AuditChain reads the chain's anchor and head.
func (db *DB) AuditChain(context.Context) (store.AuditChain, error) {
	ch := store.AuditChain{ID: store.AuditChainID}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		meta := tx.Bucket(metaBucket)
		if ch.Anchor, err = getLink(meta, auditAnchorKey); err != nil {
			return err
		}
		ch.Head, err = getLink(meta, auditHeadKey)
		return err
	})
	return ch, err
}

// PruneAudit removes the oldest events older than before, at most limit,
// and moves the anchor to the last one removed, in one transaction.
func (db *DB) PruneAudit(_ context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(auditBucket)
		var anchor store.AuditLink
		var keys [][]byte
		var evs []*store.AuditEvent
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(keys) < limit; k, v = c.Next() {
			var ev store.AuditEvent
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("store: audit entry %d is corrupt: %w", binary.BigEndian.Uint64(k), err)
			}
			if !ev.At.Before(before) {
				break
			}
			keys = append(keys, bytes.Clone(k))
			evs = append(evs, &ev)
			anchor = store.AuditLink{Seq: ev.Seq, Hash: ev.Hash}
		}
		for i, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := unindexAudit(tx, binary.BigEndian.Uint64(k), evs[i]); err != nil {
				return err
			}
		}
		n = len(keys)
		if n == 0 {
			return nil
		}
		return putLink(tx.Bucket(metaBucket), auditAnchorKey, anchor)
	})
	return n, err
}

// snapshotAudit streams the chain record, then every event in Seq order.
// The indexes are not part of a backup: Import writes them anew.
func snapshotAudit(ctx context.Context, tx *bolt.Tx, seq uint64, fn func(store.Change) error) error {
	meta := tx.Bucket(metaBucket)
	ch := store.AuditChain{ID: store.AuditChainID}
	var err error
	if ch.Anchor, err = getLink(meta, auditAnchorKey); err != nil {
		return err
	}
	if ch.Head, err = getLink(meta, auditHeadKey); err != nil {
		return err
	}
	if err := store.EmitAuditChain(ch, seq, fn); err != nil {
		return err
	}
	return tx.Bucket(auditBucket).ForEach(func(_, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(v, &ev); err != nil {
			return err
		}
		return fn(store.Change{Seq: seq, Kind: store.KindAudit, ID: ev.ID, Value: v})
	})
}

// importAudit writes one audit change of a backup: the chain record sets the
// anchor and head; a sealed event is stored as it is (its chain is checked
// by `portier audit verify`, not here); an event without a position (from a
// backup written before the chain existed, or the restore's own event) is
// sealed onto the head.
func importAudit(tx *bolt.Tx, c store.Change) error {
	meta := tx.Bucket(metaBucket)
	if c.Kind == store.KindAuditChain {
		var ch store.AuditChain
		if err := json.Unmarshal(c.Value, &ch); err != nil {
			return fmt.Errorf("store: import: audit chain: %w", err)
		}
		head, err := getLink(meta, auditHeadKey)
		if err != nil {
			return err
		}
		if head.Seq > 0 {
			return errors.New("store: import: the audit chain record comes after audit events")
		}
		if err := putLink(meta, auditAnchorKey, ch.Anchor); err != nil {
			return err
		}
		return putLink(meta, auditHeadKey, ch.Head)
	}
	var ev store.AuditEvent
	if err := json.Unmarshal(c.Value, &ev); err != nil {
		return fmt.Errorf("store: import: audit/%s: %w", c.ID, err)
	}
	if ev.Seq == 0 {
		return appendAudit(tx, [][]byte{c.Value})
	}
	b := tx.Bucket(auditBucket)
	if b.Get(u64(ev.Seq)) != nil {
		return fmt.Errorf("store: import: audit entry %d appears twice", ev.Seq)
	}
	complete := indexComplete(tx)
	b.FillPercent = 0.9
	if err := b.Put(u64(ev.Seq), c.Value); err != nil {
		return err
	}
	if err := indexAudit(tx, ev.Seq, &ev); err != nil {
		return err
	}
	if complete && ev.Seq > auditIndexed(meta) {
		if err := meta.Put(auditIndexedKey, u64(ev.Seq)); err != nil {
			return err
		}
	}
	head, err := getLink(meta, auditHeadKey)
	if err != nil {
		return err
	}
	if ev.Seq > head.Seq {
		return putLink(meta, auditHeadKey, store.AuditLink{Seq: ev.Seq, Hash: ev.Hash})
	}
	return nil
}

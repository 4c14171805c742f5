package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

// Recorded access is two buckets: decisions, keyed by the record's hour
// (8 bytes, unix seconds, big-endian) and its position (8 bytes, from the
// bucket's sequence), so that a cursor walks hour by hour; the value is the
// record's 16-byte Key followed by its JSON. decision_keys maps hour+Key to
// the position, so that a later batch adds to the same record. The number
// of records is kept in the meta bucket for max_rows.
var (
	decisionBucket    = []byte("decisions")
	decisionKeyBucket = []byte("decision_keys")
	decisionCountKey  = []byte("decisions_count")
)

var _ store.DecisionLog = (*DB)(nil)

func decisionKey(hour int64, pos uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(hour))
	binary.BigEndian.PutUint64(k[8:], pos)
	return k
}

func decisionBuckets(tx *bolt.Tx) (recs, keys *bolt.Bucket, err error) {
	if recs, err = tx.CreateBucketIfNotExists(decisionBucket); err != nil {
		return nil, nil, err
	}
	keys, err = tx.CreateBucketIfNotExists(decisionKeyBucket)
	return recs, keys, err
}

func decisionCount(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(metaBucket).Get(decisionCountKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// AppendDecisions adds a batch in one transaction, merging each record into
// the stored one with the same hour and Key.
func (db *DB) AppendDecisions(_ context.Context, batch []*store.DecisionRecord) error {
	batch = store.MergeBatch(batch)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		recs, keys, err := decisionBuckets(tx)
		if err != nil {
			return err
		}
		added := uint64(0)
		for _, r := range batch {
			hour := r.Hour.Unix()
			key := r.Key()
			ik := append(u64(uint64(hour)), key[:]...)
			if pos := keys.Get(ik); len(pos) == 8 {
				rk := decisionKey(hour, binary.BigEndian.Uint64(pos))
				old, err := decodeDecision(rk, recs.Get(rk))
				if err != nil {
					return err
				}
				old.Merge(r)
				if err := putDecision(recs, rk, key, old); err != nil {
					return err
				}
				continue
			}
			pos, err := recs.NextSequence()
			if err != nil {
				return err
			}
			if err := keys.Put(ik, u64(pos)); err != nil {
				return err
			}
			if err := putDecision(recs, decisionKey(hour, pos), key, r); err != nil {
				return err
			}
			added++
		}
		return tx.Bucket(metaBucket).Put(decisionCountKey, u64(decisionCount(tx)+added))
	})
}

func putDecision(b *bolt.Bucket, k []byte, key [16]byte, r *store.DecisionRecord) error {
	enc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put(k, append(key[:], enc...))
}

func decodeDecision(k, v []byte) (*store.DecisionRecord, error) {
	if len(v) < 16 {
		return nil, fmt.Errorf("store: decision record %x is corrupt", k)
	}
	var r store.DecisionRecord
	if err := json.Unmarshal(v[16:], &r); err != nil {
		return nil, fmt.Errorf("store: decision record %x is corrupt: %w", k, err)
	}
	r.Pos = binary.BigEndian.Uint64(k[8:])
	return &r, nil
}

// walkDecisions calls fn for the records matching q past its cursor,
// newest first, until fn returns false or an error. It seeks to the hour
// before q.Until and stops at the hour of q.Since.
func (db *DB) walkDecisions(ctx context.Context, q store.DecisionQuery, fn func(*store.DecisionRecord) (bool, error)) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(decisionBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		switch {
		case !q.After.IsZero():
			k, v = c.Seek(decisionKey(q.After.Hour, q.After.Pos))
		case !q.Until.IsZero():
			// The first hour at or after Until starts past the window.
			k, v = c.Seek(decisionKey(q.Until.Add(time.Hour-1).Truncate(time.Hour).Unix(), 0))
		}
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		needles := prefilter(q)
		var stop int64 = -1 << 62
		if !q.Since.IsZero() {
			stop = q.Since.Add(-time.Hour).Unix()
		}
		for n := 0; k != nil; k, v = c.Prev() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			hour := int64(binary.BigEndian.Uint64(k))
			if hour <= stop {
				return nil
			}
			if !q.After.Before(hour, binary.BigEndian.Uint64(k[8:])) {
				continue
			}
			if !containsAll(v, needles) {
				continue
			}
			r, err := decodeDecision(k, v)
			if err != nil {
				return err
			}
			if !q.Match(r) {
				continue
			}
			if more, err := fn(r); err != nil || !more {
				return err
			}
		}
		return nil
	})
}

// prefilter is the JSON text a record matching q's route and device must
// hold ("route":"…"), so that a walk skips most other records without
// decoding them; q.Match decides.
func prefilter(q store.DecisionQuery) [][]byte {
	var out [][]byte
	for _, f := range []struct{ key, val string }{{"route", q.Route}, {"device", q.Device}} {
		if f.val != "" {
			v, _ := json.Marshal(f.val)
			out = append(out, append([]byte(`"`+f.key+`":`), v...))
		}
	}
	return out
}

func containsAll(v []byte, needles [][]byte) bool {
	for _, n := range needles {
		if !bytes.Contains(v, n) {
			return false
		}
	}
	return true
}

// QueryDecisions reads one page, newest first.
func (db *DB) QueryDecisions(ctx context.Context, q store.DecisionQuery) ([]*store.DecisionRecord, error) {
	limit := q.PageLimit()
	var out []*store.DecisionRecord
	err := db.walkDecisions(ctx, q, func(r *store.DecisionRecord) (bool, error) {
		out = append(out, r)
		return len(out) < limit, nil
	})
	return out, err
}

// ScanDecisions calls fn for every matching record, newest first, in one
// read transaction.
func (db *DB) ScanDecisions(ctx context.Context, q store.DecisionQuery, fn func(*store.DecisionRecord) error) error {
	q.After = store.DecisionCursor{}
	return db.walkDecisions(ctx, q, func(r *store.DecisionRecord) (bool, error) { return true, fn(r) })
}

// PruneDecisions removes the oldest records, hour by hour, in one
// transaction.
func (db *DB) PruneDecisions(_ context.Context, p store.DecisionPrune) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		recs, keys, err := decisionBuckets(tx)
		if err != nil {
			return err
		}
		total := decisionCount(tx)
		before := p.Before.Unix()
		var gone [][]byte
		c := recs.Cursor()
		for k, v := c.First(); k != nil && (p.Limit <= 0 || len(gone) < p.Limit); k, v = c.Next() {
			old := int64(binary.BigEndian.Uint64(k)) < before && !p.Before.IsZero()
			over := p.MaxRows > 0 && total-uint64(len(gone)) > uint64(p.MaxRows)
			if !old && !over {
				break
			}
			if len(v) < 16 {
				return fmt.Errorf("store: decision record %x is corrupt", k)
			}
			gone = append(gone, bytes.Clone(k))
			if err := keys.Delete(append(bytes.Clone(k[:8]), v[:16]...)); err != nil {
				return err
			}
		}
		for _, k := range gone {
			if err := recs.Delete(k); err != nil {
				return err
			}
		}
		n = len(gone)
		return tx.Bucket(metaBucket).Put(decisionCountKey, u64(total-uint64(n)))
	})
	return n, err
}

package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
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
//
// decision_index makes the explorer's usual filters cheap: for each record
// an entry per lower-case email ('u'), user id ('i'), device ('d') and
// route ('r'): the letter, the value, a 0 byte, then the record's key.
var (
	decisionBucket      = []byte("decisions")
	decisionKeyBucket   = []byte("decision_keys")
	decisionIndexBucket = []byte("decision_index")
	decisionCountKey    = []byte("decisions_count")
)

// indexPrefix is the start of the index entries of one value.
func indexPrefix(field byte, val string) []byte {
	k := make([]byte, 0, len(val)+18)
	return append(append(append(k, field), val...), 0)
}

// indexKeys are r's index entries; rk is its key in the decisions bucket.
func indexKeys(r *store.DecisionRecord, rk []byte) [][]byte {
	var out [][]byte
	for _, f := range []struct {
		field byte
		val   string
	}{{'u', strings.ToLower(r.User)}, {'i', r.UserID}, {'d', r.Device}, {'r', r.Route}} {
		if f.val != "" && !strings.ContainsRune(f.val, 0) {
			out = append(out, append(indexPrefix(f.field, f.val), rk...))
		}
	}
	return out
}

// indexFor is the index prefix a query walks, nil for the whole log.
func indexFor(q store.DecisionQuery) []byte {
	switch {
	case strings.ContainsRune(q.User+q.Device+q.Route, 0):
		return nil
	case q.User != "" && strings.Contains(q.User, "@"):
		return indexPrefix('u', strings.ToLower(q.User))
	case q.User != "":
		return indexPrefix('i', q.User)
	case q.Device != "":
		return indexPrefix('d', q.Device)
	case q.Route != "":
		return indexPrefix('r', q.Route)
	}
	return nil
}

var _ store.DecisionLog = (*DB)(nil)

func decisionKey(hour int64, pos uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(hour))
	binary.BigEndian.PutUint64(k[8:], pos)
	return k
}

func decisionBuckets(tx *bolt.Tx) (recs, keys, index *bolt.Bucket, err error) {
	if recs, err = tx.CreateBucketIfNotExists(decisionBucket); err != nil {
		return nil, nil, nil, err
	}
	if keys, err = tx.CreateBucketIfNotExists(decisionKeyBucket); err != nil {
		return nil, nil, nil, err
	}
	index, err = tx.CreateBucketIfNotExists(decisionIndexBucket)
	return recs, keys, index, err
}

func decisionCount(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(metaBucket).Get(decisionCountKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// decisionTxSize bounds the records one transaction writes: bbolt splits
// its nodes only at commit, so a transaction inserting many keys at random
// places (the index) costs quadratic time.
const decisionTxSize = 1000

// AppendDecisions adds a batch, decisionTxSize records per transaction,
// merging each record into the stored one with the same hour and Key.
func (db *DB) AppendDecisions(ctx context.Context, batch []*store.DecisionRecord) error {
	keyed := store.MergeBatch(batch)
	for len(keyed) > 0 {
		n := min(len(keyed), decisionTxSize)
		if err := db.appendDecisions(keyed[:n]); err != nil {
			return err
		}
		keyed = keyed[n:]
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) appendDecisions(keyed []store.Keyed) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		recs, keys, index, err := decisionBuckets(tx)
		if err != nil {
			return err
		}
		added := uint64(0)
		for _, kr := range keyed {
			r, key := kr.Rec, kr.Key
			hour := r.Hour.Unix()
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
			rk := decisionKey(hour, pos)
			if err := putDecision(recs, rk, key, r); err != nil {
				return err
			}
			for _, ik := range indexKeys(r, rk) {
				if err := index.Put(ik, nil); err != nil {
					return err
				}
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
		// The walk goes newest first, over the whole log or over the
		// entries of one value in the index.
		var start []byte
		switch {
		case !q.After.IsZero():
			start = decisionKey(q.After.Hour, q.After.Pos)
		case !q.Until.IsZero():
			// The first hour at or after Until starts past the window.
			start = decisionKey(q.Until.Add(time.Hour-1).Truncate(time.Hour).Unix(), 0)
		}
		var first, prev func() ([]byte, []byte)
		if prefix := indexFor(q); prefix != nil {
			ix := tx.Bucket(decisionIndexBucket)
			if ix == nil {
				return nil
			}
			c := ix.Cursor()
			entry := func(k []byte) ([]byte, []byte) {
				if !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+16 {
					return nil, nil
				}
				rk := k[len(prefix):]
				return rk, b.Get(rk)
			}
			first = func() ([]byte, []byte) {
				seek := append(bytes.Clone(prefix), 0xff)
				if start != nil {
					seek = append(bytes.Clone(prefix), start...)
				}
				k, _ := c.Seek(seek)
				if k == nil {
					k, _ = c.Last()
				} else {
					k, _ = c.Prev()
				}
				return entry(k)
			}
			prev = func() ([]byte, []byte) { k, _ := c.Prev(); return entry(k) }
		} else {
			c := b.Cursor()
			first = func() ([]byte, []byte) {
				var k []byte
				if start != nil {
					k, _ = c.Seek(start)
				}
				if k == nil {
					return c.Last()
				}
				return c.Prev()
			}
			prev = c.Prev
		}
		k, v := first()
		needles := prefilter(q)
		var stop int64 = -1 << 62
		if !q.Since.IsZero() {
			stop = q.Since.Add(-time.Hour).Unix()
		}
		for n := 0; k != nil; k, v = prev() {
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
			if v == nil || !containsAll(v, needles) {
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
	needle := func(key, val string) []byte {
		v, _ := json.Marshal(val)
		return append([]byte(`"`+key+`":`), v...)
	}
	for _, f := range []struct{ key, val string }{{"route", q.Route}, {"device", q.Device}} {
		if f.val != "" {
			out = append(out, needle(f.key, f.val))
		}
	}
	if q.User != "" && q.User == strings.ToLower(q.User) {
		// Either the id or the (lower-case) email: the second needle is
		// the alternative of the first (see containsAll).
		out = append(out, needle("user_id", q.User), append([]byte{0}, needle("user", q.User)...))
	}
	return out
}

// containsAll reports whether v holds every needle; a needle starting
// with 0 is an alternative to the one before it.
func containsAll(v []byte, needles [][]byte) bool {
	for i := 0; i < len(needles); i++ {
		ok := bytes.Contains(v, needles[i])
		if i+1 < len(needles) && len(needles[i+1]) > 0 && needles[i+1][0] == 0 {
			ok = ok || bytes.Contains(v, needles[i+1][1:])
			i++
		}
		if !ok {
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
		recs, keys, index, err := decisionBuckets(tx)
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
			r, err := decodeDecision(k, v)
			if err != nil {
				return err
			}
			for _, ik := range indexKeys(r, k) {
				if err := index.Delete(ik); err != nil {
					return err
				}
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

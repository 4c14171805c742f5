package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

// smallTimeWindow is the default of DB.smallWindow: how many entries (estimated from the positions at the
// window's ends) a time window may span and still be preferred to the
// actor index: a window that narrow is read from the time index in a
// blink, while one actor may have written half the log.
const smallTimeWindow = 10000

// QueryAudit reads a page of the audit log in one read transaction. It
// reads the candidates from the most selective index the query allows
// (auditPlan) and checks every filter on each decoded candidate.
func (db *DB) QueryAudit(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	r := &auditReader{ctx: ctx, q: q, limit: q.PageLimit()}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		r.log = tx.Bucket(auditBucket)
		switch auditPlan(tx, q, db.smallWindow) {
		case planTarget:
			return r.walkIndex(tx.Bucket(auditByTarget), valuePrefix(q.Target))
		case planActor:
			return r.walkIndex(tx.Bucket(auditByActor), valuePrefix(q.Actor))
		case planTime:
			return r.timeWindow(tx.Bucket(auditByTime))
		default:
			return r.walkLog()
		}
	})
	if err != nil {
		return nil, err
	}
	return r.out, nil
}

// A plan is where QueryAudit reads its candidates.
type plan int

const (
	planLog    plan = iota // the log itself, from the cursor
	planTarget             // the target index
	planActor              // the actor index
	planTime               // the time index
)

// auditPlan picks where q's candidates come from: the target index if it
// names a target (a target is rarely touched by more than a few events),
// then a narrow time window, then the actor index, then a time window
// whose first entry the log walk would not reach at once; else the log.
// An incomplete index (which Open never leaves) sends every query to the
// log.
func auditPlan(tx *bolt.Tx, q store.AuditQuery, smallWindow uint64) plan {
	if !indexComplete(tx) {
		return planLog
	}
	if q.Target != "" {
		return planTarget
	}
	window := !q.Since.IsZero() || !q.Until.IsZero()
	if window && windowSpan(tx, q) <= smallWindow {
		return planTime
	}
	if q.Actor != "" {
		return planActor
	}
	if window && !firstInWindow(tx, q) {
		return planTime
	}
	return planLog
}

// windowBounds are the time index keys of q's window: from lo (inclusive)
// to hi (exclusive); nil is the index's start or end.
func windowBounds(q store.AuditQuery) (lo, hi []byte) {
	if !q.Since.IsZero() {
		lo = timePrefix(q.Since)
	}
	if !q.Until.IsZero() {
		hi = timePrefix(q.Until)
	}
	return lo, hi
}

// windowSpan estimates how many entries q's time window holds: the
// distance between the positions of its first and last index keys.
func windowSpan(tx *bolt.Tx, q store.AuditQuery) uint64 {
	lo, hi := windowBounds(q)
	c := tx.Bucket(auditByTime).Cursor()
	var first, last []byte
	if lo == nil {
		first, _ = c.First()
	} else {
		first, _ = c.Seek(lo)
	}
	if hi == nil {
		last, _ = c.Last()
	} else if k, _ := c.Seek(hi); k == nil {
		last, _ = c.Last()
	} else {
		last, _ = c.Prev()
	}
	if first == nil || last == nil || (hi != nil && bytes.Compare(first, hi) >= 0) || (lo != nil && bytes.Compare(last, lo) < 0) {
		return 0
	}
	a, b := keyPos(first), keyPos(last)
	if a > b {
		a, b = b, a
	}
	return b - a + 1
}

// firstInWindow reports whether the first entry a log walk from q's
// cursor reads lies in q's time window: the log is in time order, give or
// take clock steps, so the walk then finds matches at once.
func firstInWindow(tx *bolt.Tx, q store.AuditQuery) bool {
	c := tx.Bucket(auditBucket).Cursor()
	var v []byte
	switch {
	case q.Ascending:
		_, v = c.Seek(u64(q.After + 1))
	case q.After == 0:
		_, v = c.Last()
	default:
		if k, _ := c.Seek(u64(q.After)); k == nil {
			_, v = c.Last()
		} else {
			_, v = c.Prev()
		}
	}
	if v == nil {
		return true
	}
	var ev store.AuditEvent
	if json.Unmarshal(v, &ev) != nil {
		return true
	}
	return store.AuditQuery{Since: q.Since, Until: q.Until}.Match(&ev)
}

// keyPos is the log position an index key ends with.
func keyPos(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// auditReader fills one page: it decodes the entries at the positions it
// is given, in order, and keeps those that match the query.
type auditReader struct {
	ctx   context.Context
	q     store.AuditQuery
	log   *bolt.Bucket
	limit int
	n     int
	out   []*store.AuditEvent
}

// full reports whether the page is full.
func (r *auditReader) full() bool { return len(r.out) >= r.limit }

// tick checks the context every 4,096 entries read.
func (r *auditReader) tick() error {
	if r.n++; r.n%4096 == 0 {
		return r.ctx.Err()
	}
	return nil
}

// add decodes v, the entry at pos, and keeps it if it matches.
func (r *auditReader) add(pos uint64, v []byte) error {
	var ev store.AuditEvent
	if err := json.Unmarshal(v, &ev); err != nil {
		return fmt.Errorf("store: audit entry %d is corrupt: %w", pos, err)
	}
	ev.Pos = pos
	if r.q.Match(&ev) {
		r.out = append(r.out, &ev)
	}
	return nil
}

// fetch is add for the entry at pos, read from the log; an index entry
// whose log entry is gone (removed by an older Portier) is skipped.
func (r *auditReader) fetch(pos uint64) error {
	v := r.log.Get(u64(pos))
	if v == nil {
		return nil
	}
	return r.add(pos, v)
}

// walkLog walks the log from the cursor and filters as it goes.
func (r *auditReader) walkLog() error {
	c := r.log.Cursor()
	var k, v []byte
	var step func() ([]byte, []byte)
	if r.q.Ascending {
		k, v = c.Seek(u64(r.q.After + 1))
		step = c.Next
	} else {
		step = c.Prev
		if r.q.After == 0 {
			k, v = c.Last()
		} else if k, v = c.Seek(u64(r.q.After)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil && !r.full(); k, v = step() {
		if err := r.tick(); err != nil {
			return err
		}
		if err := r.add(binary.BigEndian.Uint64(k), v); err != nil {
			return err
		}
	}
	return nil
}

// walkIndex walks the keys of an actor or target index that start with
// prefix (they sort by position) from the cursor.
func (r *auditReader) walkIndex(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	var k []byte
	var step func() ([]byte, []byte)
	if r.q.Ascending {
		k, _ = c.Seek(withPos(prefix, r.q.After+1))
		step = c.Next
	} else {
		step = c.Prev
		var hi []byte
		if r.q.After == 0 {
			hi = append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 9)...)
		} else {
			hi = withPos(prefix, r.q.After)
		}
		if k, _ = c.Seek(hi); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	for ; k != nil && !r.full(); k, _ = step() {
		if len(k) != len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
			break
		}
		if err := r.tick(); err != nil {
			return err
		}
		if err := r.fetch(keyPos(k)); err != nil {
			return err
		}
	}
	return nil
}

// timeWindow reads the positions of the window's entries past the cursor
// from the time index (keys only), sorts them in the page's order, and
// fetches them until the page is full. The time index sorts by time, not
// position: every key of the window is read, so the plan suits windows
// that are narrow or far from the cursor.
func (r *auditReader) timeWindow(b *bolt.Bucket) error {
	lo, hi := windowBounds(r.q)
	c := b.Cursor()
	var k []byte
	if lo == nil {
		k, _ = c.First()
	} else {
		k, _ = c.Seek(lo)
	}
	var pos []uint64
	for ; k != nil && (hi == nil || bytes.Compare(k, hi) < 0); k, _ = c.Next() {
		if err := r.tick(); err != nil {
			return err
		}
		p := keyPos(k)
		switch {
		case r.q.Ascending && p <= r.q.After:
		case !r.q.Ascending && r.q.After != 0 && p >= r.q.After:
		default:
			pos = append(pos, p)
		}
	}
	slices.Sort(pos)
	pos = slices.Compact(pos)
	if !r.q.Ascending {
		slices.Reverse(pos)
	}
	for _, p := range pos {
		if r.full() {
			break
		}
		if err := r.fetch(p); err != nil {
			return err
		}
	}
	return nil
}

package boltstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

// The audit log's secondary indexes: three buckets whose keys point at a
// position of the log (its 8-byte key) and whose values are empty.
//
//   - by actor:  uvarint(len(actor)) actor position
//   - by target: uvarint(len(target)) target position (events without a
//     target are not indexed)
//   - by time:   seconds since 1970 (sign bit flipped), nanoseconds (4
//     bytes), position, all big-endian
//
// A value longer than maxIndexedValue bytes is indexed by its SHA-256
// instead (bbolt bounds the size of a key). Within one actor or target the
// keys sort by position, so a page is a seek and a walk. The entries are
// written in the transaction that writes the event and removed in the one
// that prunes it; they are not part of the hashed entry, so the chain and
// `portier audit verify` do not see them. Every candidate an index yields
// is decoded and checked against the whole query, so an index can only
// make a query faster, never change its answer for an untampered log.
var (
	auditByActor  = []byte("audit_by_actor")
	auditByTarget = []byte("audit_by_target")
	auditByTime   = []byte("audit_by_at")
	// auditIndexedKey (meta) is the last position of the log whose index
	// entries are written: every position up to it is indexed.
	auditIndexedKey = []byte("audit_indexed")
)

// maxIndexedValue is the longest actor or target indexed as it is.
const maxIndexedValue = 256

// valuePrefix is the part of an actor or target index key before the
// position.
func valuePrefix(s string) []byte {
	v := []byte(s)
	if len(v) > maxIndexedValue {
		h := sha256.Sum256(v)
		v = h[:]
	}
	p := binary.AppendUvarint(make([]byte, 0, len(v)+binary.MaxVarintLen64+8), uint64(len(s)))
	return append(p, v...)
}

// timePrefix is the part of a time index key before the position.
func timePrefix(t time.Time) []byte {
	b := make([]byte, 12, 20)
	binary.BigEndian.PutUint64(b, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
	return b
}

func withPos(prefix []byte, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(prefix), pos)
}

// auditIndexKeys are the index entries of the event at position pos, by bucket.
func auditIndexKeys(pos uint64, ev *store.AuditEvent) [3][]byte {
	var keys [3][]byte
	keys[0] = withPos(valuePrefix(ev.Actor), pos)
	if ev.Target != "" {
		keys[1] = withPos(valuePrefix(ev.Target), pos)
	}
	keys[2] = withPos(timePrefix(ev.At), pos)
	return keys
}

var indexBuckets = [3][]byte{auditByActor, auditByTarget, auditByTime}

// indexAudit writes the index entries of the event at position pos.
func indexAudit(tx *bolt.Tx, pos uint64, ev *store.AuditEvent) error {
	for i, k := range auditIndexKeys(pos, ev) {
		if k == nil {
			continue
		}
		if err := tx.Bucket(indexBuckets[i]).Put(k, nil); err != nil {
			return fmt.Errorf("store: index audit entry %d: %w", pos, err)
		}
	}
	return nil
}

// unindexAudit removes the index entries of the event at position pos.
func unindexAudit(tx *bolt.Tx, pos uint64, ev *store.AuditEvent) error {
	for i, k := range auditIndexKeys(pos, ev) {
		if k == nil {
			continue
		}
		if err := tx.Bucket(indexBuckets[i]).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// createAuditIndexes creates the index buckets if they are missing.
func createAuditIndexes(tx *bolt.Tx) error {
	for _, name := range indexBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// auditIndexed is the last position whose index entries are written.
func auditIndexed(meta *bolt.Bucket) uint64 {
	if v := meta.Get(auditIndexedKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// indexComplete reports whether every entry of the log is indexed.
func indexComplete(tx *bolt.Tx) bool {
	last, _ := tx.Bucket(auditBucket).Cursor().Last()
	return last == nil || binary.BigEndian.Uint64(last) <= auditIndexed(tx.Bucket(metaBucket))
}

// auditIndexBatch is how many entries one transaction of the index build
// covers: small enough that a transaction stays a few megabytes.
const auditIndexBatch = 20000

// buildAuditIndex indexes the entries past the audit_indexed marker (all
// of them in a file written before the indexes existed, or the ones an
// older Portier appended), auditIndexBatch per transaction. Each
// transaction moves the marker with the entries it indexes, so a build
// cut short by a crash resumes where it stopped; writing an index entry
// twice is harmless. It logs how many entries it indexed and how long it
// took.
func (db *DB) buildAuditIndex() error {
	start := db.now()
	total := 0
	for {
		n, err := db.indexAuditBatch(auditIndexBatch)
		if err != nil {
			return fmt.Errorf("%w (%d entries indexed before the error; the next start resumes)", err, total)
		}
		if n == 0 {
			break
		}
		if total == 0 {
			db.log.Info("boltstore: indexing the audit log (once, for the audit log's filters)", "path", db.path)
		}
		total += n
	}
	if total > 0 {
		db.log.Info("boltstore: indexed the audit log", "entries", total, "duration", db.now().Sub(start).Round(time.Millisecond))
	}
	return nil
}

// indexAuditBatch indexes up to max entries past the audit_indexed marker
// and moves the marker past them, in one transaction. It returns how many
// it indexed (0: the index is complete).
func (db *DB) indexAuditBatch(max int) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		from := auditIndexed(meta)
		c := tx.Bucket(auditBucket).Cursor()
		last := from
		for k, v := c.Seek(u64(from + 1)); k != nil && n < max; k, v = c.Next() {
			pos := binary.BigEndian.Uint64(k)
			var ev store.AuditEvent
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("store: index the audit log: entry %d is corrupt: %w", pos, err)
			}
			if err := indexAudit(tx, pos, &ev); err != nil {
				return err
			}
			last, n = pos, n+1
		}
		if n == 0 {
			return nil
		}
		return meta.Put(auditIndexedKey, u64(last))
	})
	return n, err
}

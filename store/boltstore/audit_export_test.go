package boltstore

import (
	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

// SetSmallTimeWindow sets the span under which the audit query planner
// prefers the time index to the actor index.
func SetSmallTimeWindow(db *DB, n uint64) { db.smallWindow = n }

// DropAuditIndexes removes the audit log's indexes and their marker, as in
// a file written before they existed.
func DropAuditIndexes(db *DB) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range indexBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		if err := createAuditIndexes(tx); err != nil {
			return err
		}
		return tx.Bucket(metaBucket).Delete(auditIndexedKey)
	})
}

// IndexAuditBatch is one transaction of the index build, of at most max
// entries.
func IndexAuditBatch(db *DB, max int) (int, error) { return db.indexAuditBatch(max) }

// AuditIndexSizes are the number of keys in the actor, target and time
// indexes.
func AuditIndexSizes(db *DB) (sizes [3]int, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for i, name := range indexBuckets {
			sizes[i] = tx.Bucket(name).Stats().KeyN
		}
		return nil
	})
	return sizes, err
}

// AuditPlan names where QueryAudit would read q's candidates.
func AuditPlan(db *DB, q store.AuditQuery) (name string, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		name = [...]string{"log", "target", "actor", "time"}[auditPlan(tx, q, db.smallWindow)]
		return nil
	})
	return name, err
}

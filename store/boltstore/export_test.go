package boltstore

import bolt "go.etcd.io/bbolt"

// RawAudit runs fn on the audit log's bucket in a write transaction,
// bypassing the chain, as someone editing the file would.
func RawAudit(db *DB, fn func(b *bolt.Bucket) error) error {
	return db.bolt.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(auditBucket)) })
}

// Key is the audit log's key for position seq.
func Key(seq uint64) []byte { return u64(seq) }

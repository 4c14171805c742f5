package boltstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

var _ store.Scanner = (*DB)(nil)

// Scan reads records of a history kind by id prefix, in key order.
func (db *DB) Scan(_ context.Context, q store.ScanQuery) ([]store.Change, error) {
	var out []store.Change
	limit := q.PageLimit()
	prefix := []byte(q.Prefix)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(q.Kind))
		if b == nil {
			return fmt.Errorf("store: unknown kind %q", q.Kind)
		}
		c := b.Cursor()
		var k, v []byte
		switch {
		case !q.Desc && q.After == "":
			k, v = c.Seek(prefix)
		case !q.Desc:
			k, v = c.Seek([]byte(q.After))
			if k != nil && string(k) == q.After {
				k, v = c.Next()
			}
		default:
			// Seek to the first key past the range, then walk back.
			end := q.After
			if end == "" {
				end = q.Prefix + "\xff"
			}
			k, _ = c.Seek([]byte(end))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for k != nil && len(out) < limit {
			if !bytes.HasPrefix(k, prefix) {
				break
			}
			if !q.Desc || q.After == "" || string(k) < q.After {
				out = append(out, store.Change{Kind: q.Kind, ID: string(k), Value: bytes.Clone(v)})
			}
			if q.Desc {
				k, v = c.Prev()
			} else {
				k, v = c.Next()
			}
		}
		return nil
	})
	return out, err
}

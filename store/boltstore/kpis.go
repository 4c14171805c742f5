package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portier/portier/store"
	bolt "go.etcd.io/bbolt"
)

// KPI snapshots are one bucket keyed by the day (8 bytes, unix seconds,
// big-endian), the dimension, a 0 byte and the value; the value is the
// snapshot's JSON. A day's snapshots are adjacent, so a day range is one
// cursor walk.
var kpiBucket = []byte("kpi_snapshots")

var _ store.KPISnapshotLog = (*DB)(nil)

func kpiKey(s *store.KPISnapshot) []byte {
	k := make([]byte, 8, 8+len(s.Dimension)+1+len(s.Value))
	binary.BigEndian.PutUint64(k, uint64(store.Day(s.Day).Unix()))
	k = append(k, strings.ReplaceAll(s.Dimension, "\x00", "")...)
	k = append(k, 0)
	return append(k, s.Value...)
}

// PutKPISnapshots stores the snapshots in one transaction, replacing those
// with the same key.
func (db *DB) PutKPISnapshots(_ context.Context, snaps []*store.KPISnapshot) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(kpiBucket)
		if err != nil {
			return err
		}
		for _, s := range snaps {
			c := *s
			c.Day = store.Day(s.Day)
			enc, err := json.Marshal(&c)
			if err != nil {
				return err
			}
			if err := b.Put(kpiKey(&c), enc); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueryKPISnapshots walks the days from q.Since to q.Until.
func (db *DB) QueryKPISnapshots(ctx context.Context, q store.KPISnapshotQuery) ([]*store.KPISnapshot, error) {
	var out []*store.KPISnapshot
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(kpiBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var start []byte
		if !q.Since.IsZero() {
			start = u64(uint64(store.Day(q.Since).Unix()))
		}
		var k, v []byte
		if start != nil {
			k, v = c.Seek(start)
		} else {
			k, v = c.First()
		}
		for n := 0; k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(k) < 9 {
				return fmt.Errorf("store: KPI snapshot key %x is corrupt", k)
			}
			if !q.Until.IsZero() && int64(binary.BigEndian.Uint64(k)) >= q.Until.Unix() {
				return nil
			}
			if !q.AllSeries {
				dim, val, _ := bytes.Cut(k[8:], []byte{0})
				if string(dim) != q.Dimension || string(val) != q.Value {
					continue
				}
			}
			var s store.KPISnapshot
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("store: KPI snapshot %x is corrupt: %w", k, err)
			}
			if q.Match(&s) {
				out = append(out, &s)
			}
		}
		return nil
	})
	return out, err
}

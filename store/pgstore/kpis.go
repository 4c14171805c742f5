package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/portier/portier/store"
)

// KPI snapshots are the table portier_kpi_snapshots (migration 0009).

var _ store.KPISnapshotLog = (*DB)(nil)

const sqlPutKPISnapshots = `INSERT INTO portier_kpi_snapshots (day, dimension, value, taken_at, entry)
	SELECT d, m, v, t, e FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[]) AS x(d, m, v, t, e)
	ON CONFLICT (dimension, value, day) DO UPDATE SET taken_at = EXCLUDED.taken_at, entry = EXCLUDED.entry`

// PutKPISnapshots upserts the snapshots in one statement.
func (db *DB) PutKPISnapshots(ctx context.Context, snaps []*store.KPISnapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	// The same key twice in one statement is an error in PostgreSQL: the
	// last one wins, as it would on the embedded store.
	idx := map[[2]string]int{}
	var days, taken []time.Time
	var dims, vals []string
	var entries [][]byte
	for _, s := range snaps {
		c := *s
		c.Day, c.Dimension, c.Value = store.Day(s.Day), column(strings.ReplaceAll(s.Dimension, "\x00", "")), column(s.Value)
		enc, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		k := [2]string{c.Day.String() + "\x00" + c.Dimension, c.Value}
		if i, ok := idx[k]; ok {
			taken[i], entries[i] = c.TakenAt, enc
			continue
		}
		idx[k] = len(days)
		days, dims, vals, taken, entries = append(days, c.Day), append(dims, c.Dimension), append(vals, c.Value), append(taken, c.TakenAt), append(entries, enc)
	}
	if _, err := db.pool.Exec(ctx, sqlPutKPISnapshots, days, dims, vals, taken, entries); err != nil {
		return fmt.Errorf("pgstore: put KPI snapshots: %w", err)
	}
	return nil
}

// QueryKPISnapshots reads a day range of one series, or of all.
func (db *DB) QueryKPISnapshots(ctx context.Context, q store.KPISnapshotQuery) ([]*store.KPISnapshot, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if !q.Since.IsZero() {
		arg("day >= $?", store.Day(q.Since))
	}
	if !q.Until.IsZero() {
		arg("day < $?", q.Until)
	}
	if !q.AllSeries {
		arg("dimension = $?", column(q.Dimension))
		arg("value = $?", column(q.Value))
	}
	sql := "SELECT entry FROM portier_kpi_snapshots"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY day, dimension COLLATE "C", value COLLATE "C"`
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: query KPI snapshots: %w", err)
	}
	defer rows.Close()
	var out []*store.KPISnapshot
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("pgstore: query KPI snapshots: %w", err)
		}
		var s store.KPISnapshot
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("pgstore: KPI snapshot is corrupt: %w", err)
		}
		s.Day, s.TakenAt = s.Day.UTC(), s.TakenAt.UTC()
		out = append(out, &s)
	}
	return out, rows.Err()
}

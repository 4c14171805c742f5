package pgstore

import (
	"context"
	"fmt"

	"github.com/portier/portier/store"
)

var _ store.Scanner = (*DB)(nil)

// Scan reads live records of a history kind by id prefix, in id order
// (bytewise, as the embedded store orders them).
func (db *DB) Scan(ctx context.Context, q store.ScanQuery) ([]store.Change, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	op, order := ">", "ASC"
	if q.Desc {
		op, order = "<", "DESC"
	}
	sql := `SELECT seq, id, value FROM portier_records
		WHERE kind = $1 AND NOT deleted AND starts_with(id, $2)`
	args := []any{string(q.Kind), q.Prefix}
	if q.After != "" {
		sql += ` AND id COLLATE "C" ` + op + ` $3`
		args = append(args, q.After)
	}
	sql += ` ORDER BY id COLLATE "C" ` + order + fmt.Sprintf(` LIMIT %d`, q.PageLimit())
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: scan %s: %w", q.Kind, err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c := store.Change{Kind: q.Kind}
		var seq int64
		if err := rows.Scan(&seq, &c.ID, &c.Value); err != nil {
			return nil, fmt.Errorf("pgstore: scan %s: %w", q.Kind, err)
		}
		c.Seq = uint64(seq)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: scan %s: %w", q.Kind, err)
	}
	return out, nil
}

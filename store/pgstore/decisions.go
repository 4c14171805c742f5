package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
)

// Recorded access is the table portier_decisions (migration 0007): one row
// per hour and record Key; replicas flushing the same facts add to one row.

var _ store.DecisionLog = (*DB)(nil)

const sqlAppendDecisions = `INSERT INTO portier_decisions
	(hour, key, first_at, last_at, count, route, user_id, email, device, outcome, rules, report_only, ro_outcome, ro_rules, entry)
	SELECT h, k, f, l, c, r, u, e, d, o, string_to_array(ru, E'\x1f'), ro, roo, string_to_array(ror, E'\x1f'), en
	FROM unnest($1::timestamptz[], $2::bytea[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[], $11::text[], $12::boolean[], $13::text[], $14::text[], $15::bytea[])
		AS t(h, k, f, l, c, r, u, e, d, o, ru, ro, roo, ror, en)
	ON CONFLICT (hour, key) DO UPDATE SET
		count = portier_decisions.count + EXCLUDED.count,
		first_at = LEAST(portier_decisions.first_at, EXCLUDED.first_at),
		last_at = GREATEST(portier_decisions.last_at, EXCLUDED.last_at)`

// unitSep joins a rule list into one text for unnest (rule ids cannot hold it).
const unitSep = "\x1f"

// AppendDecisions upserts a batch in one statement.
func (db *DB) AppendDecisions(ctx context.Context, batch []*store.DecisionRecord) error {
	keyed := store.MergeBatch(batch)
	if len(keyed) == 0 {
		return nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	n := len(keyed)
	hour, first, last := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	keys, entries := make([][]byte, n), make([][]byte, n)
	count := make([]int64, n)
	route, uid, email, dev, outcome, rules := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ro, roOutcome, roRules := make([]bool, n), make([]string, n), make([]string, n)
	for i, kr := range keyed {
		r, k := kr.Rec, kr.Key
		enc, err := json.Marshal(r)
		if err != nil {
			return err
		}
		hour[i], first[i], last[i], keys[i], entries[i], count[i] = r.Hour, r.First, r.Last, k[:], enc, int64(r.Count)
		route[i], uid[i], email[i], dev[i], outcome[i] = column(r.Route), column(r.UserID), column(r.User), column(r.Device), r.Outcome
		rules[i] = column(strings.Join(r.Rules, unitSep))
		if r.ReportOnly != nil {
			ro[i], roOutcome[i], roRules[i] = true, r.ReportOnly.Outcome, column(strings.Join(r.ReportOnly.Rules, unitSep))
		}
	}
	_, err := db.pool.Exec(ctx, sqlAppendDecisions, hour, keys, first, last, count, route, uid, email, dev, outcome, rules, ro, roOutcome, roRules, entries)
	if err != nil {
		return fmt.Errorf("pgstore: append decisions: %w", err)
	}
	return nil
}

// decisionSQL is the query for q's filters, newest first; limit 0 means
// no limit.
func decisionSQL(q store.DecisionQuery, limit int) (string, []any) {
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if !q.Since.IsZero() {
		arg("hour > $?", q.Since.Add(-time.Hour))
	}
	if !q.Until.IsZero() {
		arg("hour < $?", q.Until)
	}
	if q.User != "" {
		arg("(email = lower($?) OR user_id = $?)", column(q.User))
	}
	if q.Device != "" {
		arg("device = $?", column(q.Device))
	}
	if q.Route != "" {
		arg("route = $?", column(q.Route))
	}
	outcome, rules, reasons := "outcome", "rules", "'reasons'"
	if q.ReportOnly != nil {
		arg("report_only = $?", *q.ReportOnly)
		if *q.ReportOnly {
			outcome, rules, reasons = "ro_outcome", "ro_rules", "'report_only' -> 'reasons'"
		}
	}
	if q.Outcome != "" {
		arg(outcome+" = $?", q.Outcome)
	}
	if q.Rule != "" {
		arg("$? = ANY("+rules+")", column(q.Rule))
	}
	if q.Reason != "" {
		// Reasons are only in the entry: a filter, not an index. json, not
		// jsonb: json keeps a \u0000 a recorded path may hold.
		// A record without reasons may hold null.
		j := "convert_from(entry, 'UTF8')::json -> " + reasons
		arg("EXISTS (SELECT 1 FROM json_array_elements(CASE WHEN json_typeof("+j+") = 'array' THEN "+j+
			" END) AS e WHERE e ->> 'code' = $?)", column(q.Reason))
	}
	if !q.After.IsZero() {
		args = append(args, time.Unix(q.After.Hour, 0).UTC(), int64(min(q.After.Pos, 1<<62)))
		where = append(where, fmt.Sprintf("(hour, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	sql := "SELECT id, count, first_at, last_at, entry FROM portier_decisions"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY hour DESC, id DESC"
	if limit > 0 {
		args = append(args, limit)
		sql += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	return sql, args
}

func scanDecision(rows pgx.Rows) (*store.DecisionRecord, error) {
	var id, count int64
	var first, last time.Time
	var b []byte
	if err := rows.Scan(&id, &count, &first, &last, &b); err != nil {
		return nil, err
	}
	var r store.DecisionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decision record %d is corrupt: %w", id, err)
	}
	r.Pos, r.Count, r.First, r.Last = uint64(id), uint64(count), first.UTC(), last.UTC()
	r.Hour = r.Hour.UTC()
	return &r, nil
}

// QueryDecisions reads one page with the filters in SQL.
func (db *DB) QueryDecisions(ctx context.Context, q store.DecisionQuery) ([]*store.DecisionRecord, error) {
	var out []*store.DecisionRecord
	err := db.scanDecisions(ctx, q, q.PageLimit(), func(r *store.DecisionRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// ScanDecisions streams every matching record, newest first.
func (db *DB) ScanDecisions(ctx context.Context, q store.DecisionQuery, fn func(*store.DecisionRecord) error) error {
	q.After = store.DecisionCursor{}
	return db.scanDecisions(ctx, q, 0, fn)
}

func (db *DB) scanDecisions(ctx context.Context, q store.DecisionQuery, limit int, fn func(*store.DecisionRecord) error) error {
	sql, args := decisionSQL(q, limit)
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("pgstore: query decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanDecision(rows)
		if err != nil {
			return fmt.Errorf("pgstore: query decisions: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pgstore: query decisions: %w", err)
	}
	return nil
}

// PruneDecisions removes the oldest records: those before p.Before, then
// those past p.MaxRows, at most p.Limit.
func (db *DB) PruneDecisions(ctx context.Context, p store.DecisionPrune) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	limit := p.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	n := 0
	if !p.Before.IsZero() {
		tag, err := db.pool.Exec(ctx, `DELETE FROM portier_decisions WHERE id IN
			(SELECT id FROM portier_decisions WHERE hour < $1 ORDER BY hour, id LIMIT $2)`, p.Before, limit)
		if err != nil {
			return 0, fmt.Errorf("pgstore: prune decisions: %w", err)
		}
		n = int(tag.RowsAffected())
	}
	if p.MaxRows > 0 && n < limit {
		var total int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM portier_decisions`).Scan(&total); err != nil {
			return n, fmt.Errorf("pgstore: prune decisions: %w", err)
		}
		if over := min(total-p.MaxRows, limit-n); over > 0 {
			tag, err := db.pool.Exec(ctx, `DELETE FROM portier_decisions WHERE id IN
				(SELECT id FROM portier_decisions ORDER BY hour, id LIMIT $1)`, over)
			if err != nil {
				return n, fmt.Errorf("pgstore: prune decisions: %w", err)
			}
			n += int(tag.RowsAffected())
		}
	}
	return n, nil
}

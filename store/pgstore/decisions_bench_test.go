package pgstore

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// sqlGenerateDecisions loads $1 synthetic records into portier_decisions
// in one INSERT … SELECT generate_series, spread evenly over the 720
// hours from $2: record i is person i*7919 mod 20,000 (one device each)
// on route i/7 mod 50; one in seven is denied (a trust reason, rule
// staff/deny-trust), and routes 0–4 carry a report-only policy "strict"
// that would deny personal devices. The entry is the record's JSON as
// the store writes it.
const sqlGenerateDecisions = `INSERT INTO portier_decisions
	(hour, key, first_at, last_at, count, route, user_id, email, device, outcome, rules, report_only, ro_outcome, ro_rules, entry)
SELECT hour, decode(md5(i::text), 'hex'), hour + interval '10 min', hour + interval '11 min', 1 + i % 20,
	route, 'u' || lpad(u::text, 5, '0'), email, 'dev_' || lpad(u::text, 5, '0'), outcome, rules, ro, ro_outcome, ro_rules,
	convert_to(json_build_object('hour', hour, 'first', hour + interval '10 min', 'last', hour + interval '11 min',
		'count', 1 + i % 20, 'route', route, 'policy', 'staff', 'user_id', 'u' || lpad(u::text, 5, '0'), 'user', email,
		'device', 'dev_' || lpad(u::text, 5, '0'), 'outcome', outcome, 'rules', to_json(rules),
		'reasons', CASE WHEN outcome = 'deny' THEN json_build_array(json_build_object('code', 'device.trust',
			'message', 'This device''s trust level is low.', 'remediation', 'Open the Portier agent.', 'rule', 'staff/deny-trust'))
			ELSE json_build_array() END,
		'report_only', CASE WHEN ro THEN json_build_object('policy', 'strict', 'outcome', ro_outcome, 'rules', to_json(ro_rules),
			'reasons', json_build_array()) END,
		'facts', json_build_object('groups', json_build_array('staff'), 'idp', 'corp', 'mfa_age', '8h0m0s',
			'session_age', '8h0m0s', 'trust', CASE WHEN outcome = 'deny' THEN 'low' ELSE 'high' END,
			'ownership', CASE WHEN u % 5 = 0 THEN 'byod' ELSE 'corporate' END, 'platform', 'macos', 'compliant', true,
			'managed', true, 'checks', json_build_array('disk_encrypted'), 'seen_age', '1h0m0s', 'ip', '10.0.0.1',
			'country', 'FR', 'method', 'GET', 'path', '/'))::text, 'UTF8')
FROM (SELECT i, u, hour, route, email, outcome, rules, ro,
		CASE WHEN ro AND u % 5 = 0 THEN 'deny' WHEN ro THEN 'allow' ELSE '' END AS ro_outcome,
		CASE WHEN ro AND u % 5 = 0 THEN ARRAY['strict/deny-byod'] WHEN ro THEN ARRAY['strict/allow'] ELSE ARRAY[]::text[] END AS ro_rules
	FROM (SELECT i, u, $2::timestamptz + (i * 720 / $1) * interval '1 hour' AS hour,
			'https://app' || (i / 7 % 50) || '.example.com' AS route, 'user' || lpad(u::text, 5, '0') || '@example.com' AS email,
			CASE WHEN i % 7 = 0 THEN 'deny' ELSE 'allow' END AS outcome,
			CASE WHEN i % 7 = 0 THEN ARRAY['staff/deny-trust'] ELSE ARRAY['staff/allow'] END AS rules,
			i / 7 % 50 < 5 AS ro
		FROM (SELECT i, i * 7919 % 20000 AS u FROM generate_series($3::bigint, $4::bigint - 1) AS i) AS s) AS t) AS r`

// BenchmarkDecisionsFirstPage10M is the decision explorer's first page
// (100 records) with 10 million recorded decisions in PostgreSQL
// (PORTIER_BENCH_DECISIONS sets another count), unfiltered and with the
// explorer's filters. Opt-in: it runs only with PORTIER_BENCH_10M=1, in a
// schema of its own that is dropped at the end. Loading is part of the
// set-up (generate_series, in steps of a million, then the secondary
// indexes and ANALYZE) and is
// logged, as are the plans of the filtered queries.
func BenchmarkDecisionsFirstPage10M(b *testing.B) {
	if os.Getenv("PORTIER_BENCH_10M") != "1" {
		b.Skip("set PORTIER_BENCH_10M=1 to load 10 million recorded decisions into PostgreSQL")
	}
	total := 10_000_000
	if v := os.Getenv("PORTIER_BENCH_DECISIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("PORTIER_BENCH_DECISIONS=%q: want a count of at least 1000", v)
		}
		total = n
	}
	db := openDB(b, pgtest.DSN(b))
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	// The secondary indexes are built once after the load, from their
	// definitions: faster than keeping them up to date row by row.
	var defs []string
	rows, err := db.pool.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'portier_decisions'
		AND schemaname = current_schema() AND indexdef NOT LIKE 'CREATE UNIQUE%'`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		defs = append(defs, def)
		if _, err := db.pool.Exec(ctx, "DROP INDEX "+name); err != nil {
			b.Fatal(err)
		}
	}
	rows.Close()
	const step = 1_000_000
	for lo := 0; lo < total; lo += step {
		if _, err := db.pool.Exec(ctx, "SET TIME ZONE 'UTC'"); err != nil {
			b.Fatal(err)
		}
		if _, err := db.pool.Exec(ctx, sqlGenerateDecisions, total, start, lo, min(lo+step, total)); err != nil {
			b.Fatalf("load: %v", err)
		}
		b.Logf("loaded %d records in %v", min(lo+step, total), time.Since(t0).Round(time.Second))
	}
	for _, def := range defs {
		if _, err := db.pool.Exec(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("built %d indexes at %v", len(defs), time.Since(t0).Round(time.Second))
	if _, err := db.pool.Exec(ctx, "VACUUM ANALYZE portier_decisions"); err != nil {
		b.Fatal(err)
	}
	var size string
	if err := db.pool.QueryRow(ctx, "SELECT pg_size_pretty(pg_total_relation_size('portier_decisions'))").Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded and analysed %d records (%s with indexes) in %v", total, size, time.Since(t0).Round(time.Second))
	yes := true
	last := start.Add(719 * time.Hour)
	for _, tc := range []struct {
		name string
		q    store.DecisionQuery
	}{
		{"newest", store.DecisionQuery{}},
		{"one-person", store.DecisionQuery{User: "user00042@example.com"}},
		{"one-person-by-id", store.DecisionQuery{User: "u00042"}},
		{"one-device", store.DecisionQuery{Device: "dev_00042"}},
		{"one-route", store.DecisionQuery{Route: "https://app7.example.com"}},
		{"denied", store.DecisionQuery{Outcome: "deny"}},
		{"one-route-denied", store.DecisionQuery{Route: "https://app7.example.com", Outcome: "deny"}},
		{"one-rule", store.DecisionQuery{Rule: "staff/deny-trust"}},
		{"one-reason", store.DecisionQuery{Outcome: "deny", Reason: "device.trust"}},
		{"report-only-would-deny", store.DecisionQuery{ReportOnly: &yes, Outcome: "deny"}},
		{"last-hour", store.DecisionQuery{Since: last}},
		{"first-day", store.DecisionQuery{Since: start, Until: start.Add(24 * time.Hour)}},
		{"first-day-denied", store.DecisionQuery{Since: start, Until: start.Add(24 * time.Hour), Outcome: "deny"}},
	} {
		tc.q.Limit = 100
		sql, args := decisionSQL(tc.q, tc.q.PageLimit())
		var plan string
		rows, err := db.pool.Query(ctx, "EXPLAIN "+sql, args...)
		if err == nil {
			for rows.Next() {
				var line string
				_ = rows.Scan(&line)
				plan += "\n\t" + line
			}
			rows.Close()
		}
		b.Logf("%s plan:%s", tc.name, plan)
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				page, err := db.QueryDecisions(ctx, tc.q)
				if err != nil || len(page) == 0 {
					b.Fatalf("%d records, %v", len(page), err)
				}
			}
		})
	}
}

package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// tamper edits the portier_audit rows directly, as someone with write
// access to the database would.
var tamper = storetest.Tamper{
	Edit: func(t *testing.T, be store.Backend, seq uint64, edit func([]byte) []byte) {
		db := be.(*DB)
		var b []byte
		if err := db.pool.QueryRow(context.Background(), `SELECT entry FROM portier_audit WHERE seq = $1`, int64(seq)).Scan(&b); err != nil {
			t.Fatal(err)
		}
		rawExec(t, db, `UPDATE portier_audit SET entry = $2 WHERE seq = $1`, int64(seq), edit(b))
	},
	Delete: func(t *testing.T, be store.Backend, seq uint64) {
		rawExec(t, be.(*DB), `DELETE FROM portier_audit WHERE seq = $1`, int64(seq))
	},
	Swap: func(t *testing.T, be store.Backend, a, c uint64) {
		rawExec(t, be.(*DB), `UPDATE portier_audit p SET entry = q.entry FROM portier_audit q
			WHERE (p.seq, q.seq) IN (($1, $2), ($2, $1))`, int64(a), int64(c))
	},
}

func rawExec(t *testing.T, db *DB, sql string, args ...any) {
	t.Helper()
	tag, err := db.pool.Exec(context.Background(), sql, args...)
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("%s: %v (%d rows)", sql, err, tag.RowsAffected())
	}
}

func TestAuditConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.RunAudit(t, func(t *testing.T) storetest.Opener {
		dsn := pgtest.DSN(t)
		return func(t *testing.T) store.Backend {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := Open(ctx, dsn, quiet())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
	}, tamper)
}

// Two processes (two DBs on one database) writing audited changes at once
// append to one linear chain: each head is read under the counter lock.
func TestAuditChainLinearAcrossProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDB(t, dsn), openDB(t, dsn)
	sa, sb := openStore(t, a), openStore(t, b)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for p, st := range []*store.Store{sa, sb} {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					ev := store.NewAuditEvent(time.Now(), fmt.Sprint("p", p, "g", g), "write", fmt.Sprint(i))
					errs <- st.Write(ctx, store.Put(&store.Blob{ID: fmt.Sprint(p, g, i)}), store.Put(ev))
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ch, err := a.AuditChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := store.NewAuditVerifier(ch.Anchor)
	n := 0
	q := store.AuditQuery{Ascending: true}
	for {
		page, err := b.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if br := v.Add(ev); br != nil {
				t.Fatalf("chain broken by concurrent processes: %v", br)
			}
			n++
		}
		q.After = page[len(page)-1].Pos
	}
	if br := v.End(ch.Head); br != nil || n != 400 {
		t.Fatalf("%d events, end: %v; want 400 and intact", n, br)
	}
}

// Audit events an earlier Portier kept as records move into the chain at
// Open, oldest first.
func TestAuditLegacyRecordsMoved(t *testing.T) {
	dsn := pgtest.DSN(t)
	db := openDB(t, dsn)
	ctx := context.Background()
	for i := range 3 {
		ev := store.NewAuditEvent(time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), "system", fmt.Sprint("old.", i), "")
		v, _ := store.Encode(ev)
		rawExec(t, db, `INSERT INTO portier_records (kind, id, value, seq) VALUES ('audit', $1, $2, $3)`, ev.ID, v, int64(100+i))
	}
	db.Close()
	db = openDB(t, dsn)
	got, err := db.QueryAudit(ctx, store.AuditQuery{Ascending: true})
	if err != nil || len(got) != 3 || got[0].Action != "old.0" || got[2].Seq != 3 {
		t.Fatalf("moved events = %+v, %v", got, err)
	}
	var left int
	_ = db.pool.QueryRow(ctx, `SELECT count(*) FROM portier_records WHERE kind = 'audit'`).Scan(&left)
	if left != 0 {
		t.Errorf("%d audit records left in portier_records", left)
	}
}

package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// TestCounterConformance runs the counter suite on two processes' worth of
// connections to one database: they must share every count, so that N
// replicas do not allow N times the attempts.
func TestCounterConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.RunCounter(t, func(t *testing.T) (store.Counter, store.Counter) {
		dsn := pgtest.DSN(t)
		open := func() *DB {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db, err := Open(ctx, dsn, quiet())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		a, b := open(), open()
		if store.CounterFor(a) != store.Counter(a) {
			t.Fatal("CounterFor does not use PostgreSQL's shared counter")
		}
		return a, b
	})
}

// TestLimitCountersArePruned: counters whose window has ended go away.
func TestLimitCountersArePruned(t *testing.T) {
	db := openDB(t, pgtest.DSN(t))
	ctx := context.Background()
	now := time.Now()
	if _, err := db.Count(ctx, "old", time.Minute, now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Count(ctx, "current", time.Minute, now); err != nil {
		t.Fatal(err)
	}
	n, err := db.pruneLimits(ctx, now.Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if c, _ := db.Count(ctx, "current", time.Minute, now); c != 2 {
		t.Errorf("the current counter was pruned: n = %d", c)
	}
}

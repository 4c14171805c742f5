package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, fileOpener)
}

// TestCounterConformance: the embedded store is one process, so its
// counter is in memory; the same suite as PostgreSQL's shared counter.
func TestCounterConformance(t *testing.T) {
	storetest.RunCounter(t, func(t *testing.T) (store.Counter, store.Counter) {
		db, err := boltstore.Open(filepath.Join(t.TempDir(), "portier.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c := store.CounterFor(db)
		return c, c
	})
}

// TestLeaseConformance: the embedded store is one process, which holds
// every lease; the same suite as PostgreSQL's lease rows.
func TestLeaseConformance(t *testing.T) {
	storetest.RunLeases(t, func(t *testing.T) storetest.LeaseWorld {
		db, err := boltstore.Open(filepath.Join(t.TempDir(), "portier.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		l := store.LeasesFor(db)
		return storetest.LeaseWorld{A: l, B: l, Kill: func() {}}
	})
}

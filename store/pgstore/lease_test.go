package pgstore

import (
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// TestLeaseConformance runs the lease suite on two processes' worth of
// connections to one database; killing A closes its connections without
// releasing anything, as a crashed replica would.
func TestLeaseConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.RunLeases(t, func(t *testing.T) storetest.LeaseWorld {
		dsn := pgtest.DSN(t)
		a, b := openDB(t, dsn), openDB(t, dsn)
		if store.LeasesFor(a) != store.Leases(a) {
			t.Fatal("LeasesFor does not use PostgreSQL's lease rows")
		}
		return storetest.LeaseWorld{A: a, B: b, Shared: true, Kill: func() { a.pool.Close() }}
	})
}

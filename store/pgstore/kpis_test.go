package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// dbOpener is a conformance suite's opener: a fresh schema per subtest,
// opened again by each call as a restart would.
func dbOpener(t *testing.T) storetest.Opener {
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
}

func TestKPISnapshotsConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.RunKPISnapshots(t, dbOpener)
}

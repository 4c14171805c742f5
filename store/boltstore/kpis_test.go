package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

// fileOpener is a conformance suite's opener: a fresh data file per
// subtest, opened again by each call as a restart would.
func fileOpener(t *testing.T) storetest.Opener {
	path := filepath.Join(t.TempDir(), "portier.db")
	return func(t *testing.T) store.Backend {
		db, err := boltstore.Open(path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	}
}

func TestKPISnapshotsConformance(t *testing.T) {
	storetest.RunKPISnapshots(t, fileOpener)
}

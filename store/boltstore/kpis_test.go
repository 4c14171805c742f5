package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
	"github.com/portier/portier/store/storetest"
)

func TestKPISnapshotsConformance(t *testing.T) {
	storetest.RunKPISnapshots(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "portier.db")
		return func(t *testing.T) store.Backend {
			db, err := boltstore.Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
	})
}

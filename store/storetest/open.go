package storetest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
)

// OpenBolt opens a real store on a fresh embedded file for a test; it is
// closed when the test ends.
func OpenBolt(t testing.TB) *store.Store {
	t.Helper()
	be, err := boltstore.Open(filepath.Join(t.TempDir(), "portier.db"))
	if err != nil {
		t.Fatalf("boltstore.Open: %v", err)
	}
	st, err := store.Open(context.Background(), be, slog.New(slog.DiscardHandler))
	if err != nil {
		be.Close()
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		st.Close()
		be.Close()
	})
	return st
}

package acme

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// replica is one process's Storage over a store.
func newStorage(t *testing.T, st *store.Store, leases store.Leases, holder string) *Storage {
	t.Helper()
	sealer, err := identity.NewAESSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return NewStorage(StorageOptions{Store: st, Leases: leases, Sealer: sealer, Clock: time.Now, Holder: holder,
		Log: slog.New(slog.DiscardHandler)})
}

// openPG opens a store on dsn, as one replica does.
func openPG(t *testing.T, dsn string) (*store.Store, store.Leases) {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); db.Close() })
	return st, store.LeasesFor(db)
}

// backends runs a test on two replicas of a PostgreSQL store, and on the
// embedded store, whose one process has one Storage (used as both).
func backends(t *testing.T, run func(t *testing.T, a, b *Storage)) {
	t.Run("embedded", func(t *testing.T) {
		s := newStorage(t, storetest.OpenBolt(t), store.SoloLeases{}, "a")
		run(t, s, s)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		sa, la := openPG(t, dsn)
		sb, lb := openPG(t, dsn)
		run(t, newStorage(t, sa, la, "a"), newStorage(t, sb, lb, "b"))
	})
}

func TestStorageValuesAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	backends(t, func(t *testing.T, a, b *Storage) {
		cert := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
		key := []byte("-----BEGIN EC PRIVATE KEY-----\nsecret key material\n-----END EC PRIVATE KEY-----\n")
		if err := a.Store(ctx, "certificates/ca/wiki.example.com/wiki.example.com.crt", cert); err != nil {
			t.Fatal(err)
		}
		if err := a.Store(ctx, "certificates/ca/wiki.example.com/wiki.example.com.key", key); err != nil {
			t.Fatal(err)
		}
		if err := a.Store(ctx, "acme/ca/users/ops@example.com/ops.json", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		// B reads what A just wrote, without waiting for replication.
		got, err := b.Load(ctx, "certificates/ca/wiki.example.com/wiki.example.com.key")
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("B loads A's key: %q, %v", got, err)
		}
		raw, _ := b.st.Blob(BlobPrefix + "certificates/ca/wiki.example.com/wiki.example.com.key")
		if bytes.Contains(raw.Data, []byte("secret key material")) {
			t.Error("a private key is stored in the clear")
		}
		if e, err := b.entry(ctx, "certificates/ca/wiki.example.com/wiki.example.com.crt"); err != nil || e.Sealed || !bytes.Equal(e.Data, cert) {
			t.Errorf("a certificate (public) is kept as %+v, %v: want it as it is", e, err)
		}
		if _, err := b.Load(ctx, "certificates/ca/none.example.com/none.example.com.crt"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing key: %v, want fs.ErrNotExist", err)
		}
		info, err := b.Stat(ctx, "certificates/ca/wiki.example.com/wiki.example.com.crt")
		if err != nil || !info.IsTerminal || info.Size != int64(len(cert)) || time.Since(info.Modified) > time.Minute {
			t.Errorf("Stat = %+v, %v", info, err)
		}
		if info, err := b.Stat(ctx, "certificates/ca"); err != nil || info.IsTerminal {
			t.Errorf("Stat of a directory = %+v, %v", info, err)
		}
		if !b.Exists(ctx, "certificates") || b.Exists(ctx, "certificates/c") {
			t.Error("Exists: want directories by whole path segments only")
		}
		list, err := b.List(ctx, "certificates", false)
		if err != nil || !slices.Equal(list, []string{"certificates/ca"}) {
			t.Errorf("List = %v, %v", list, err)
		}
		list, err = b.List(ctx, "certificates", true)
		want := []string{"certificates/ca", "certificates/ca/wiki.example.com",
			"certificates/ca/wiki.example.com/wiki.example.com.crt", "certificates/ca/wiki.example.com/wiki.example.com.key"}
		if err != nil || !slices.Equal(list, want) {
			t.Errorf("List recursive = %v, %v", list, err)
		}
		if err := b.Delete(ctx, "certificates/ca/wiki.example.com"); err != nil {
			t.Fatal(err)
		}
		if a.st.Sync(ctx) != nil || a.Exists(ctx, "certificates/ca/wiki.example.com/wiki.example.com.crt") {
			t.Error("A still sees a deleted directory's key")
		}
		if err := b.Delete(ctx, "certificates/ca/wiki.example.com"); err != nil {
			t.Errorf("deleting what is gone: %v", err)
		}
		if !a.Exists(ctx, "acme/ca/users/ops@example.com/ops.json") {
			t.Error("Delete removed a key outside the directory")
		}
	})
}

func TestStorageSealedKeyBoundToItsName(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenBolt(t)
	s := newStorage(t, st, store.SoloLeases{}, "a")
	if err := s.Store(ctx, "a.key", []byte("k")); err != nil {
		t.Fatal(err)
	}
	b, _ := st.Blob(BlobPrefix + "a.key")
	if err := st.Write(ctx, store.Put(&store.Blob{ID: BlobPrefix + "b.key", Data: b.Data})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "b.key"); err == nil {
		t.Error("a sealed key copied under another name opens")
	}
}

func TestStorageLockIsExclusive(t *testing.T) {
	ctx := context.Background()
	backends(t, func(t *testing.T, a, b *Storage) {
		if err := a.Lock(ctx, "issue_cert_wiki"); err != nil {
			t.Fatal(err)
		}
		var bHolds atomic.Bool
		got := make(chan error, 1)
		go func() {
			err := b.Lock(ctx, "issue_cert_wiki")
			bHolds.Store(true)
			got <- err
		}()
		time.Sleep(3 * lockPoll)
		if bHolds.Load() {
			t.Fatal("B took a lock A holds")
		}
		// Another name is free meanwhile.
		if err := b.Lock(ctx, "issue_cert_other"); err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(ctx, "issue_cert_other"); err != nil {
			t.Fatal(err)
		}
		if err := a.Unlock(ctx, "issue_cert_wiki"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("B did not get the lock A released")
		}
		if err := b.Unlock(ctx, "issue_cert_wiki"); err != nil {
			t.Fatal(err)
		}
		wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := a.Lock(ctx, "issue_cert_wiki"); err != nil {
			t.Fatal(err)
		}
		if err := b.Lock(wait, "issue_cert_wiki"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock honours its context: %v", err)
		}
		if err := a.Unlock(ctx, "issue_cert_wiki"); err != nil {
			t.Fatal(err)
		}
	})
}

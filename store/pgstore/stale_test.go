package pgstore

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestSilentLinkGoesStale: a replica whose link to PostgreSQL goes silent
// (packets held, connections open) stops being Fresh within the bound,
// although no error comes back; a write through another replica is not
// seen meanwhile; when the link comes back the replica catches up and is
// Fresh again.
func TestSilentLinkGoesStale(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	relay := pgtest.NewRelay(t, u.Host)
	a := openStore(t, openDB(t, dsn))
	const bound = 500 * time.Millisecond
	bdb := openDB(t, relay.DSN(dsn))
	b, err := store.OpenWith(context.Background(), bdb, quiet(), store.Options{MaxStaleness: bound})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	waitFresh := func(want bool, limit time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(limit); (b.Fresh() == nil) != want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("Fresh() = %v, want fresh=%v within %v", b.Fresh(), want, limit)
			}
		}
	}
	waitFresh(true, 5*time.Second)

	relay.Pause()
	paused := time.Now()
	if err := a.Write(context.Background(), store.Put(&store.Device{ID: "revoked-meanwhile"})); err != nil {
		t.Fatal(err)
	}
	waitFresh(false, 10*bound)
	t.Logf("stale %v after the link went silent (bound %v)", time.Since(paused), bound)
	if err := b.Fresh(); !errors.Is(err, store.ErrStale) {
		t.Errorf("Fresh() = %v, want ErrStale", err)
	}
	if b.Staleness() <= bound {
		t.Errorf("Staleness() = %v while stale", b.Staleness())
	}

	relay.Resume()
	waitFresh(true, 20*time.Second)
	if _, ok := b.Device("revoked-meanwhile"); !ok {
		t.Error("fresh again without the write made meanwhile")
	}
}

// TestFindCatchesUp: a record written through one replica is found through
// the other at once by Find, without waiting for the notification, and a
// burst of lookups for records that do not exist is served by few catch-up
// rounds.
func TestFindCatchesUp(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, openDB(t, dsn)), openStore(t, openDB(t, dsn))
	ctx := context.Background()
	for i := range 20 {
		id := "s" + string(rune('a'+i))
		if err := a.Write(ctx, store.Put(&store.Device{ID: id})); err != nil {
			t.Fatal(err)
		}
		if _, ok := store.Find(b, func() (*store.Device, bool) { return b.Device(id) }); !ok {
			t.Fatalf("write %d through A not found through B", i)
		}
	}
	// A flood of unknown ids: every lookup still answers (not found)
	// within about one catch-up round plus the wait, not one per lookup.
	start := time.Now()
	done := make(chan bool)
	for range 200 {
		go func() {
			_, ok := store.Find(b, func() (*store.Device, bool) { return b.Device("nope") })
			done <- ok
		}()
	}
	for range 200 {
		if <-done {
			t.Fatal("found a device that does not exist")
		}
	}
	t.Logf("200 concurrent lookups of an unknown id answered in %v", time.Since(start))
}

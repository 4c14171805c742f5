package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestLockIsExclusiveAcrossProcesses: a named lock held by one process
// makes another wait; another name, or another schema, does not.
func TestLockIsExclusiveAcrossProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openDB(t, dsn), openDB(t, dsn)
	ctx := context.Background()
	unlock, err := a.Lock(ctx, "first-run")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = b.Lock(short, "first-run")
	cancel()
	if err == nil {
		t.Fatal("a second process took a lock that is held")
	}
	other, err := b.Lock(ctx, "something-else")
	if err != nil {
		t.Fatalf("another name: %v", err)
	}
	other()
	elsewhere := openDB(t, pgtest.DSN(t))
	un, err := elsewhere.Lock(ctx, "first-run")
	if err != nil {
		t.Fatalf("the same name in another schema (installation): %v", err)
	}
	un()
	unlock()
	un, err = b.Lock(ctx, "first-run")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	un()
}

// TestExclusiveSeesEveryEarlierCommit: inside Exclusive a process reads
// what another committed just before, without waiting for a notification.
func TestExclusiveSeesEveryEarlierCommit(t *testing.T) {
	dsn := pgtest.DSN(t)
	sa, sb := openStore(t, openDB(t, dsn)), openStore(t, openDB(t, dsn))
	ctx := context.Background()
	for i := range 20 {
		id := "blob-" + string(rune('a'+i))
		if err := sa.Write(ctx, store.Create(&store.Blob{ID: id, Data: []byte("x")})); err != nil {
			t.Fatal(err)
		}
		err := sb.Exclusive(ctx, "test", func() error {
			if _, ok := sb.Blob(id); !ok {
				return errors.New("missing")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: a record committed by the other process was not visible inside Exclusive", i)
		}
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// testEmailUnique: the durable store refuses a second person with an
// address already in use (folded as the e-mail index folds it), whether
// the writes come one after another or race; an address left by a change
// or a delete is free again, and the remaining person is found by it.
func testEmailUnique(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	user := func(id, email string) *store.User { return &store.User{ID: id, Email: email} }

	if err := st.Write(ctx, store.Create(user("usr_a", "ann@example.com"))); err != nil {
		t.Fatal(err)
	}
	err := st.Write(ctx, store.Create(user("usr_b", "ANN@example.com")))
	var ae *apperr.Error
	if !errors.Is(err, store.ErrExists) || !errors.As(err, &ae) || ae.Field != "email" || apperr.Status(err) != 409 ||
		!strings.Contains(ae.Msg, "ann@example.com belongs to another person") {
		t.Fatalf("second person with ann's address: err = %#v, want ErrExists, a 409 on field email", err)
	}
	if err := st.Write(ctx, store.Put(user("usr_b", "bob@example.com"))); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Put(user("usr_b", "ann@example.com"))); !errors.Is(err, store.ErrExists) {
		t.Fatalf("changing bob's address to ann's: err = %v, want ErrExists", err)
	}
	if u, ok := st.UserByEmail("ann@example.com"); !ok || u.ID != "usr_a" {
		t.Fatalf("ann's address finds %+v", u)
	}
	// Saving a person unchanged keeps the address.
	if err := st.Write(ctx, store.Put(&store.User{ID: "usr_a", Email: "ann@example.com", Groups: []string{"staff"}})); err != nil {
		t.Fatalf("saving ann again: %v", err)
	}
	// ann changes address: the old one is free, the new one taken.
	if err := st.Write(ctx, store.Put(user("usr_a", "ann.lee@example.com"))); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Put(user("usr_b", "ann@example.com"))); err != nil {
		t.Fatalf("taking the address ann left: %v", err)
	}
	// A delete frees the address.
	if err := st.Write(ctx, store.Delete(store.KindUser, "usr_a")); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Create(user("usr_c", "ann.lee@example.com"))); err != nil {
		t.Fatalf("the address of a deleted person: %v", err)
	}
	if u, ok := st.UserByEmail("ann@example.com"); !ok || u.ID != "usr_b" {
		t.Fatalf("after the changes ann@ finds %+v", u)
	}

	// Racing writers, each its own Write: exactly one wins.
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- st.Write(ctx, store.Create(user(fmt.Sprintf("usr_race%d", i), "race@example.com")))
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("racing writer: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing writers won race@example.com, want exactly 1", won)
	}

	// People written before addresses were claimed get their claims;
	// a duplicate among them is reported, not resolved silently.
	if _, err := be.Commit(ctx, []store.Mutation{mut(store.KindUser, "usr_old", user("usr_old", "old@example.com")),
		mut(store.KindUser, "usr_dup", user("usr_dup", "bob2@example.com"))}); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, be)
	defer st2.Close()
	var dups []string
	if err := st2.Write(ctx, store.Put(user("usr_dup", "race@example.com"))); !errors.Is(err, store.ErrExists) {
		t.Fatalf("an unclaimed person moving to a claimed address: %v", err)
	}
	dups, err = store.ClaimEmails(ctx, st2)
	if err != nil || len(dups) != 0 {
		t.Fatalf("ClaimEmails: %v %v", dups, err)
	}
	if err := st2.Write(ctx, store.Create(user("usr_new", "OLD@example.com"))); !errors.Is(err, store.ErrExists) {
		t.Fatalf("an address claimed by ClaimEmails: %v", err)
	}
}

package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

func rule(id string, v uint64, text string) *store.Rule {
	return &store.Rule{ID: id, Type: store.RulePolicy, Version: v, Text: text, Author: "test", At: time.Unix(1, 0).UTC()}
}

// testCompareAndSet: a write that names the version it read succeeds only
// if the record is still at that version (0: absent).
func testCompareAndSet(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	if err := st.Write(ctx, store.PutIf(rule("p", 1, "a"), 0)); err != nil {
		t.Fatalf("create at version 0: %v", err)
	}
	if err := st.Write(ctx, store.PutIf(rule("p", 1, "b"), 0)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create at version 0: err = %v, want ErrConflict", err)
	}
	if err := st.Write(ctx, store.PutIf(rule("p", 2, "c"), 1)); err != nil {
		t.Fatalf("update from version 1: %v", err)
	}
	if err := st.Write(ctx, store.PutIf(rule("p", 2, "stale"), 1), store.Put(&store.Blob{ID: "with-stale"})); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update from version 1: err = %v, want ErrConflict", err)
	}
	if _, ok := st.Blob("with-stale"); ok {
		t.Error("a write beside a refused compare-and-set landed: the transaction is not all or nothing")
	}
	got, ok := st.RuleOf(store.RulePolicy, "p")
	if !ok || got.Version != 2 || got.Text != "c" {
		t.Fatalf("rule after the updates = %+v, want version 2 text c", got)
	}
	// Within one commit the check sees the batch's earlier write.
	_, err := be.Commit(ctx, []store.Mutation{casMut(rule("q", 1, "x"), 0), casMut(rule("q", 2, "y"), 1)})
	if err != nil {
		t.Fatalf("two chained writes in one commit: %v", err)
	}
	_, err = be.Commit(ctx, []store.Mutation{casMut(rule("q", 3, "x"), 2), casMut(rule("q", 4, "y"), 2)})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second write of one commit from a stale version: err = %v, want ErrConflict", err)
	}
}

func casMut(r store.Record, version uint64) store.Mutation {
	m := mut(r.Kind(), r.Key(), r)
	m.CheckVersion, m.IfVersion = true, version
	return m
}

// testCompareAndSetRace: writers racing from the same version, directly on
// the backend (concurrent transactions) and through the Store (one
// batch): exactly one wins each round, the others get ErrConflict.
func testCompareAndSetRace(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	const writers = 8
	for round := range uint64(4) {
		var wg sync.WaitGroup
		results := make(chan error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rule("race", round+1, fmt.Sprint("writer ", i))
				if round%2 == 0 {
					_, err := be.Commit(ctx, []store.Mutation{casMut(r, round)})
					results <- err
					return
				}
				results <- st.Write(ctx, store.PutIf(r, round))
			}()
		}
		wg.Wait()
		close(results)
		won := 0
		for err := range results {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d: unexpected error %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", round, won)
		}
		if err := st.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// testHistoryScan: history records are durable, scanned by prefix with a
// cursor in both orders, and never part of the read model.
func testHistoryScan(t *testing.T, open Opener) {
	be := open(t)
	st := openStore(t, be)
	ctx := context.Background()
	var ops []store.Op
	for v := uint64(1); v <= 5; v++ {
		ops = append(ops, store.Put(&store.RuleVersion{ID: store.RuleVersionID(store.RulePolicy, "a", v), RuleID: "a", Version: v}))
	}
	ops = append(ops, store.Put(&store.RuleVersion{ID: store.RuleVersionID(store.RulePolicy, "ab", 1), RuleID: "ab", Version: 1}))
	ops = append(ops, store.Put(&store.RuleVersion{ID: store.RuleVersionID(store.RuleRoute, "a", 1), RuleID: "a", Version: 1}))
	if err := st.Write(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	st.Close()
	be.Close()
	be = open(t)
	defer be.Close()
	if got, _ := load(t, be); len(got) != 0 {
		t.Errorf("Load returned %d history records, want none (history is not in the read model)", len(got))
	}
	st = openStore(t, be)
	defer st.Close()
	versions := func(q store.ScanQuery) []uint64 {
		t.Helper()
		recs, err := st.Scan(ctx, q)
		if err != nil {
			t.Fatalf("Scan(%+v): %v", q, err)
		}
		var out []uint64
		for _, r := range recs {
			out = append(out, r.(*store.RuleVersion).Version)
		}
		return out
	}
	prefix := store.RuleVersionPrefix(store.RulePolicy, "a")
	q := store.ScanQuery{Kind: store.KindRuleVersion, Prefix: prefix, Limit: 2}
	if got := fmt.Sprint(versions(q)); got != "[1 2]" {
		t.Errorf("first ascending page = %s, want [1 2]", got)
	}
	q.After = store.RuleVersionID(store.RulePolicy, "a", 4)
	if got := fmt.Sprint(versions(q)); got != "[5]" {
		t.Errorf("ascending page after 4 = %s, want [5]", got)
	}
	q = store.ScanQuery{Kind: store.KindRuleVersion, Prefix: prefix, Desc: true, Limit: 2}
	if got := fmt.Sprint(versions(q)); got != "[5 4]" {
		t.Errorf("first descending page = %s, want [5 4]", got)
	}
	q.After = store.RuleVersionID(store.RulePolicy, "a", 4)
	if got := fmt.Sprint(versions(q)); got != "[3 2]" {
		t.Errorf("descending page after 4 = %s, want [3 2]", got)
	}
	q.After = store.RuleVersionID(store.RulePolicy, "a", 1)
	if got := fmt.Sprint(versions(q)); got != "[]" {
		t.Errorf("descending page after 1 = %s, want []", got)
	}
}

// testDeleteIf: a delete that names the version it read removes the
// record only if it is still at that version.
func testDeleteIf(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	if err := st.Write(ctx, store.PutIf(rule("p", 1, "a"), 0), store.PutIf(rule("p", 2, "b"), 1)); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.DeleteIf(store.KindPolicy, "p", 1)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete from version 1 of a record at 2: err = %v, want ErrConflict", err)
	}
	if _, ok := st.RuleOf(store.RulePolicy, "p"); !ok {
		t.Fatal("a refused delete removed the record")
	}
	if err := st.Write(ctx, store.DeleteIf(store.KindPolicy, "p", 2)); err != nil {
		t.Fatalf("delete from version 2: %v", err)
	}
	if _, ok := st.RuleOf(store.RulePolicy, "p"); ok {
		t.Fatal("the record is still there")
	}
}

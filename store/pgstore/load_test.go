package pgstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestLoadWholeFleet: a store opened on a database of a few thousand
// records (decoded on several goroutines while the rows stream) holds
// each of them.
func TestLoadWholeFleet(t *testing.T) {
	db := openDB(t, pgtest.DSN(t))
	const n = 3000
	muts := make([]store.Mutation, 0, n)
	for i := range n {
		muts = append(muts, device(fmt.Sprintf("dev_%05d", i)))
	}
	if _, err := db.Commit(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, db)
	if got := len(st.Devices()); got != n {
		t.Fatalf("%d devices loaded, want %d", got, n)
	}
	if d, ok := st.Device("dev_02999"); !ok || d.Serial != "S-dev_02999" {
		t.Errorf("dev_02999 = %+v, %v", d, ok)
	}
}

// TestCorruptRecordStopsLoadNamingIt: one undecodable record among
// thousands stops the store from opening, with an error naming it.
func TestCorruptRecordStopsLoadNamingIt(t *testing.T) {
	db := openDB(t, pgtest.DSN(t))
	var muts []store.Mutation
	for i := range 2000 {
		muts = append(muts, device(fmt.Sprintf("dev_%05d", i)))
	}
	muts = append(muts, store.Mutation{Kind: store.KindDevice, ID: "dev_broken", Value: []byte("{not json")})
	for i := 2000; i < 4000; i++ {
		muts = append(muts, device(fmt.Sprintf("dev_%05d", i)))
	}
	if _, err := db.Commit(context.Background(), muts); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), db, quiet())
	if err == nil {
		st.Close()
		t.Fatal("the store opened over a corrupt record")
	}
	if !strings.Contains(err.Error(), "device/dev_broken is corrupt") {
		t.Fatalf("err = %v, want one naming device/dev_broken", err)
	}
}

// TestValueReadsOneRecord: Value reads a live record straight from the
// database and says when there is none, deleted included.
func TestValueReadsOneRecord(t *testing.T) {
	db := openDB(t, pgtest.DSN(t))
	ctx := context.Background()
	if _, err := db.Commit(ctx, []store.Mutation{device("dev_a"), device("dev_gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(ctx, []store.Mutation{{Kind: store.KindDevice, ID: "dev_gone"}}); err != nil {
		t.Fatal(err)
	}
	v, ok, err := db.Value(ctx, store.KindDevice, "dev_a")
	if err != nil || !ok || !strings.Contains(string(v), `"serial":"S-dev_a"`) {
		t.Errorf("Value(dev_a) = %q, %v, %v", v, ok, err)
	}
	for _, id := range []string{"dev_gone", "dev_never"} {
		if v, ok, err := db.Value(ctx, store.KindDevice, id); err != nil || ok || v != nil {
			t.Errorf("Value(%s) = %q, %v, %v; want nothing", id, v, ok, err)
		}
	}
}

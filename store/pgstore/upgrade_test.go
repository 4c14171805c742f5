package pgstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// upgradeTo plays the next release N: it migrates the database at dsn with
// this release's migrations plus next (version N), as that release's first
// replica to start would, and returns its store. This release then plays
// N-1.
func upgradeTo(t *testing.T, dsn string, next migration) *store.Store {
	t.Helper()
	db := openDB(t, dsn)
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	next.version = len(all) + 1
	if err := db.migrate(context.Background(), append(all, next)); err != nil {
		t.Fatalf("migrate to the next release: %v", err)
	}
	return openStore(t, db)
}

// An expand-only migration keeps the previous release working: a replica
// of N-1 starts on the schema of N and serves beside a replica of N, each
// seeing the other's writes.
func TestRollingUpgradeExpandKeepsPreviousRelease(t *testing.T) {
	dsn := pgtest.DSN(t)
	newer := upgradeTo(t, dsn, migration{name: "next_expand", expand: true,
		sql: `CREATE TABLE portier_next (id text PRIMARY KEY); ALTER TABLE portier_records ADD COLUMN next_note text`})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prevDB, err := Open(ctx, dsn, quiet()) // this code knows one migration less than the schema
	if err != nil {
		t.Fatalf("the previous release refused a schema that only expanded: %v", err)
	}
	t.Cleanup(func() { prevDB.Close() })
	prev := openStore(t, prevDB)

	for i, w := range []struct{ from, to *store.Store }{{newer, prev}, {prev, newer}} {
		id := fmt.Sprintf("rolling-%d", i)
		if err := w.from.Write(ctx, store.Put(&store.Device{ID: id})); err != nil {
			t.Fatalf("write %s: %v", id, err)
		}
		waitDevice(t, w.to, id, 5*time.Second)
	}
}

// A contracting migration ends the window: the previous release refuses to
// start, saying which version it would need, and leaves the schema as it is.
func TestRollingUpgradeContractRefusesPreviousRelease(t *testing.T) {
	dsn := pgtest.DSN(t)
	newer := upgradeTo(t, dsn, migration{name: "next_contract",
		sql: `ALTER TABLE portier_records ADD COLUMN next_required text NOT NULL DEFAULT ''`})
	n := uint64(len(mustMigrations(t)) + 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, dsn, quiet())
	if err == nil {
		db.Close()
		t.Fatal("the previous release started on a schema that contracted")
	}
	for _, want := range []string{
		fmt.Sprintf("schema version %d was written by a newer Portier and is not compatible with this one", n),
		fmt.Sprintf("which knows up to %d", n-1),
		fmt.Sprintf("knows schema version %d or later", n),
		"Run the newer release on this replica too",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	// The newer release is unaffected.
	if err := newer.Write(ctx, store.Put(&store.Device{ID: "after"})); err != nil {
		t.Errorf("the newer release cannot write after the refusal: %v", err)
	}
}

// The window holds over several expand-only releases and closes at the
// first contracting one, as recorded by the releases that applied them.
func TestRollingUpgradeWindowAcrossReleases(t *testing.T) {
	dsn := pgtest.DSN(t)
	db := openDB(t, dsn)
	all := mustMigrations(t)
	n := len(all)
	add := func(expand bool) {
		all = append(all, migration{version: len(all) + 1, name: fmt.Sprintf("next_%d", len(all)+1), expand: expand,
			sql: fmt.Sprintf(`CREATE TABLE portier_next_%d (id text)`, len(all)+1)})
		if err := db.migrate(context.Background(), all); err != nil {
			t.Fatal(err)
		}
	}
	opens := func(knows int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := OpenWith(ctx, dsn, quiet(), Options{KnownSchema: knows})
		if err == nil {
			d.Close()
		}
		return err
	}
	add(true)
	add(true) // schema n+2, both expand-only: n, n+1 still run
	for _, k := range []int{n, n + 1} {
		if err := opens(k); err != nil {
			t.Errorf("a release knowing %d refused a schema at %d that only expanded since: %v", k, n+2, err)
		}
	}
	add(false) // n+3 contracts: only n+3 runs
	for _, k := range []int{n, n + 1, n + 2} {
		if err := opens(k); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("knows schema version %d or later", n+3)) {
			t.Errorf("a release knowing %d on a schema contracted at %d: err = %v, want a refusal", k, n+3, err)
		}
	}
}

// The last real migration is marked as what it is: when it is expand-only,
// the release before it runs on today's schema (KnownSchema: N-1, the real
// previous migrations), else it refuses.
func TestRollingUpgradeFromThePreviousRealRelease(t *testing.T) {
	dsn := pgtest.DSN(t)
	openDB(t, dsn)
	all := mustMigrations(t)
	last := all[len(all)-1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := OpenWith(ctx, dsn, quiet(), Options{KnownSchema: len(all) - 1})
	if last.expand {
		if err != nil {
			t.Fatalf("%s is expand-only but the release before it refuses: %v", last.name, err)
		}
		defer db.Close()
		st := openStore(t, db)
		if err := st.Write(ctx, store.Put(&store.Device{ID: "from-previous"})); err != nil {
			t.Errorf("the previous release cannot write: %v", err)
		}
		return
	}
	if err == nil {
		db.Close()
		t.Fatalf("%s contracts but the release before it started", last.name)
	}
}

func TestMigrationsMarkedExpand(t *testing.T) {
	for _, m := range mustMigrations(t) {
		if got := expandMarker.MatchString(m.sql); got != m.expand {
			t.Errorf("%s: expand = %v, marker present = %v", m.name, m.expand, got)
		}
	}
	if expandMarker.MatchString("-- not portier:expand\nSELECT 1") || !expandMarker.MatchString("-- about\n-- portier:expand\nSELECT 1") {
		t.Error("the marker must be a line of its own")
	}
}

func mustMigrations(t *testing.T) []migration {
	t.Helper()
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

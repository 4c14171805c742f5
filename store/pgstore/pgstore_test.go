package pgstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/portier/portier/store/pgstore/pgtest"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openDB opens dsn and closes it when the test ends.
func openDB(t testing.TB, dsn string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, dsn, quiet())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openStore(t testing.TB, db *DB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), db, quiet())
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

func device(id string) store.Mutation {
	b, err := store.Encode(&store.Device{ID: id, Serial: "S-" + id, Trust: store.TrustHigh})
	if err != nil {
		panic(err)
	}
	return store.Mutation{Kind: store.KindDevice, ID: id, Value: b}
}

func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, dbOpener)
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://portier:s3cret@127.0.0.1:1/portier?sslmode=disable", quiet())
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot reach PostgreSQL at 127.0.0.1:1: ") {
		t.Errorf("error %q does not name the server", msg)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error %q leaks the password", msg)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to report an unreachable server", d)
	}
	t.Log(msg)
}

func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:s3cret@127.0.0.1:notaport/x", quiet())
	if err == nil || !strings.Contains(err.Error(), "invalid PostgreSQL DSN") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v, want an invalid-DSN error without the password", err)
	}
}

func TestOpenMissingSchema(t *testing.T) {
	dsn := pgtest.WithParam(pgtest.URL(t), "search_path", "portier_no_such_schema")
	_, err := Open(context.Background(), dsn, quiet())
	if err == nil || !strings.Contains(err.Error(), "no schema to create") {
		t.Errorf("err = %v, want a missing-schema error", err)
	}
}

// countHandler counts log records with one message.
type countHandler struct {
	msg string
	n   *atomic.Int32
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h countHandler) WithGroup(string) slog.Handler            { return h }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}

func TestMigrationsRunOnceWhenOpensRace(t *testing.T) {
	dsn := pgtest.DSN(t)
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var applied atomic.Int32
	log := slog.New(countHandler{msg: "pgstore: applied schema migration", n: &applied})
	const racers = 5
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for range racers {
		wg.Go(func() {
			db, err := Open(context.Background(), dsn, log)
			if err == nil {
				defer db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("racing Open: %v", err)
		}
	}
	if int(applied.Load()) != len(all) {
		t.Errorf("%d migrations applied by %d racing Opens, want %d", applied.Load(), racers, len(all))
	}
	db := openDB(t, dsn)
	var rows int
	if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM portier_schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(all) {
		t.Errorf("%d migration rows, want %d", rows, len(all))
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	db := openDB(t, dsn)
	if _, err := db.pool.Exec(context.Background(), `INSERT INTO portier_schema_migrations (version, name) VALUES (9999, 'future')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(context.Background(), dsn, quiet())
	if err == nil || !strings.Contains(err.Error(), "newer Portier") {
		t.Errorf("Open of a newer schema: err = %v, want a refusal", err)
	}
}

func TestCommitWithinBatch(t *testing.T) {
	db := openDB(t, pgtest.DSN(t))
	ctx := context.Background()
	create := func(id string) store.Mutation { m := device(id); m.Create = true; return m }
	del := func(id string) store.Mutation { return store.Mutation{Kind: store.KindDevice, ID: id} }

	if _, err := db.Commit(ctx, []store.Mutation{device("a"), create("a")}); !errors.Is(err, store.ErrExists) {
		t.Errorf("Put then Create in one batch: err = %v, want ErrExists", err)
	}
	if _, err := db.Commit(ctx, []store.Mutation{create("b"), create("b")}); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create twice in one batch: err = %v, want ErrExists", err)
	}
	if _, err := db.Commit(ctx, []store.Mutation{device("c")}); err != nil {
		t.Fatal(err)
	}
	ch, err := db.Commit(ctx, []store.Mutation{del("c"), create("c"), device("c"), del("d")})
	if err != nil {
		t.Fatalf("Delete then Create in one batch: %v", err)
	}
	if len(ch) != 4 || ch[3].Seq != ch[0].Seq+3 || !ch[0].Deleted || !ch[3].Deleted {
		t.Errorf("changes = %+v", ch)
	}
	if _, err := db.Commit(ctx, []store.Mutation{{Kind: "nope", ID: "x", Value: []byte("{}")}}); err == nil {
		t.Error("unknown kind committed")
	}
	if _, err := db.Commit(ctx, []store.Mutation{create("c")}); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create of live record: err = %v", err)
	}
	if _, err := db.Commit(ctx, []store.Mutation{del("c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(ctx, []store.Mutation{create("c")}); err != nil {
		t.Errorf("Create over a tombstone: %v", err)
	}

	// Only committed changes are numbered: the failed commits above left no gaps.
	got, err := db.Since(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	tomb := map[string]bool{}
	for _, c := range got {
		seqs = append(seqs, c.Seq)
		tomb[c.ID] = c.Deleted
		if c.Deleted != (c.Value == nil) {
			t.Errorf("change %+v: Deleted and Value disagree", c)
		}
	}
	// c: 1, then 2..4 in one batch (the last kept), 6 (delete), 7 (create);
	// d: a tombstone at 5.
	if want := []uint64{5, 7}; fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Errorf("Since(0) seqs = %v, want %v", seqs, want)
	}
	if !tomb["d"] || tomb["c"] {
		t.Errorf("tombstones = %v, want d deleted and c live", tomb)
	}
	var top int64
	if err := db.pool.QueryRow(ctx, `SELECT v FROM portier_seq`).Scan(&top); err != nil || top != 7 {
		t.Errorf("counter = %d, %v; want 7", top, err)
	}
}

func TestPingAfterClose(t *testing.T) {
	db := openDB(t, pgtest.DSN(t))
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	db.Close()
	if err := db.Ping(context.Background()); err == nil {
		t.Error("Ping of a closed DB succeeded")
	}
}

// adminConn is a plain connection to the test server for poking at it.
func adminConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeConn(conn) })
	return conn
}

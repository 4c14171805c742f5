package storetest

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

func snapshotter(t *testing.T, be store.Backend) store.Snapshotter {
	t.Helper()
	s, ok := be.(store.Snapshotter)
	if !ok {
		t.Fatalf("%T does not implement store.Snapshotter", be)
	}
	return s
}

func importer(t *testing.T, be store.Backend) store.Importer {
	t.Helper()
	i, ok := be.(store.Importer)
	if !ok {
		t.Fatalf("%T does not implement store.Importer", be)
	}
	return i
}

// changes yields cs to Import, then io.EOF (or fail, if set, in its place).
func changes(cs []store.Change, fail error) func() (store.Change, error) {
	i := 0
	return func() (store.Change, error) {
		if i == len(cs) {
			if fail != nil {
				return store.Change{}, fail
			}
			return store.Change{}, io.EOF
		}
		i++
		return cs[i-1], nil
	}
}

func change(k store.Kind, id string, r store.Record) store.Change {
	m := mut(k, id, r)
	return store.Change{Kind: m.Kind, ID: m.ID, Value: m.Value}
}

// testSnapshot: one consistent snapshot, sequence first, ordered, same
// records as Load, and writes made while it runs are not in it.
func testSnapshot(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	muts := []store.Mutation{
		mut(store.KindUser, "u2", &store.User{ID: "u2"}),
		mut(store.KindDevice, "d1", &store.Device{ID: "d1"}),
		mut(store.KindUser, "u1", &store.User{ID: "u1"}),
		mut(store.KindUser, "U0", &store.User{ID: "U0"}),
	}
	if _, err := be.Commit(ctx, muts); err != nil {
		t.Fatal(err)
	}
	want, wantSeq := load(t, be)
	var begun bool
	var gotSeq uint64
	var keys []string
	// A write while the snapshot runs must not show in it. It runs beside
	// the snapshot, not inside fn: on the embedded store a commit that must
	// grow the file waits for open read transactions to end.
	during := make(chan error, 1)
	err := snapshotter(t, be).Snapshot(ctx, func(seq uint64) error {
		begun, gotSeq = true, seq
		go func() {
			_, err := be.Commit(ctx, []store.Mutation{mut(store.KindUser, "u9", &store.User{ID: "u9"})})
			during <- err
		}()
		select {
		case err := <-during:
			during <- err
		case <-time.After(time.Second):
		}
		return nil
	}, func(c store.Change) error {
		if !begun {
			return errors.New("a record came before begin")
		}
		keys = append(keys, string(c.Kind)+"/"+c.ID)
		return nil
	})
	if werr := <-during; werr != nil {
		t.Fatalf("commit during snapshot: %v", werr)
	}
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if gotSeq != wantSeq {
		t.Errorf("snapshot seq = %d, Load seq = %d", gotSeq, wantSeq)
	}
	if len(keys) != len(want) || !slices.IsSorted(keys) {
		t.Errorf("snapshot records = %v, want the %d of Load in bytewise order", keys, len(want))
	}
	for _, k := range keys {
		if want[k] == nil {
			t.Errorf("snapshot has %s, Load does not", k)
		}
	}
	stop := errors.New("stop")
	err = snapshotter(t, be).Snapshot(ctx, func(uint64) error { return nil }, func(store.Change) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Snapshot with a failing fn: err = %v, want it returned", err)
	}
}

// testImport: an empty backend takes the records, keeps numbering after
// seq, and treats them as any other record afterwards.
func testImport(t *testing.T, open Opener) {
	be := open(t)
	ctx := context.Background()
	in := []store.Change{
		change(store.KindDevice, "d1", &store.Device{ID: "d1", Serial: "SN1"}),
		change(store.KindUser, "u1", &store.User{ID: "u1", Email: "a@example.com"}),
		change(store.KindBlob, "b", &store.Blob{ID: "b", Data: []byte{1}}),
	}
	if err := importer(t, be).Import(ctx, 1000, changes(in, nil)); err != nil {
		t.Fatalf("Import: %v", err)
	}
	be.Close()
	be = open(t)
	defer be.Close()
	got, seq := load(t, be)
	if len(got) != 3 || got["device/d1"].(*store.Device).Serial != "SN1" {
		t.Errorf("after import Load = %v", got)
	}
	if seq < 1000 {
		t.Errorf("after import seq = %d, want >= 1000", seq)
	}
	create := mut(store.KindUser, "u1", &store.User{ID: "u1"})
	create.Create = true
	if _, err := be.Commit(ctx, []store.Mutation{create}); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create over an imported record: err = %v, want ErrExists", err)
	}
	ch, err := be.Commit(ctx, []store.Mutation{mut(store.KindUser, "u2", &store.User{ID: "u2"})})
	if err != nil {
		t.Fatal(err)
	}
	if ch[0].Seq <= seq {
		t.Errorf("first commit after import got seq %d, not above %d", ch[0].Seq, seq)
	}
	err = importer(t, be).Import(ctx, 0, changes(in[:1], nil))
	if !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("second Import: err = %v, want ErrNotEmpty", err)
	}
}

// testImportAtomic: a failing source, a duplicate or a non-empty backend
// leaves the backend as it was.
func testImportAtomic(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	in := []store.Change{
		change(store.KindDevice, "d1", &store.Device{ID: "d1"}),
		change(store.KindUser, "u1", &store.User{ID: "u1"}),
	}
	broken := errors.New("truncated backup")
	if err := importer(t, be).Import(ctx, 0, changes(in, broken)); !errors.Is(err, broken) {
		t.Errorf("Import with a failing source: err = %v, want it returned", err)
	}
	dup := append(slices.Clone(in), in[0])
	if err := importer(t, be).Import(ctx, 0, changes(dup, nil)); err == nil {
		t.Error("Import with a duplicate record succeeded")
	}
	unknown := []store.Change{{Kind: "nonsense", ID: "x", Value: []byte("{}")}}
	if err := importer(t, be).Import(ctx, 0, changes(unknown, nil)); err == nil {
		t.Error("Import of an unknown kind succeeded")
	}
	if got, _ := load(t, be); len(got) != 0 {
		t.Fatalf("failed imports left %v", got)
	}

	if _, err := be.Commit(ctx, []store.Mutation{mut(store.KindBlob, "b", &store.Blob{ID: "b"})}); err != nil {
		t.Fatal(err)
	}
	if err := importer(t, be).Import(ctx, 0, changes(in, nil)); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("Import into a store with a record: err = %v, want ErrNotEmpty", err)
	}
	if got, _ := load(t, be); len(got) != 1 {
		t.Errorf("a refused import changed the store: %v", got)
	}
}

// Package storetest is the conformance suite every durable backend passes:
// the same tests run against the embedded file store and PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// Opener opens the backend under test. Calling it again (after Close) must
// open the same durable data, as a restart would.
type Opener func(t *testing.T) store.Backend

// Run runs the whole suite. newOpener is called once per subtest and must
// return an opener over fresh, empty storage.
func Run(t *testing.T, newOpener func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"CommitLoadRoundTrip", testRoundTrip},
		{"DeleteRemoves", testDelete},
		{"CreateIsAtomic", testCreateAtomic},
		{"SequenceIsMonotonic", testSequence},
		{"StoreWriteVisibleAtOnce", testStoreVisible},
		{"RestartRebuildsReadModel", testRestart},
		{"ConcurrentWritesAllLand", testConcurrent},
		{"CreateRaceOneWinner", testCreateRace},
		{"UpdateNeverResurrects", testUpdate},
		{"SnapshotIsConsistent", testSnapshot},
		{"ImportFillsEmptyStore", testImport},
		{"ImportIsAllOrNothing", testImportAtomic},
		{"IdentityRecords", testIdentityRecords},
		{"CompareAndSet", testCompareAndSet},
		{"CompareAndSetRaceOneWinner", testCompareAndSetRace},
		{"DeleteIfChecksTheVersion", testDeleteIf},
		{"HistoryScan", testHistoryScan},
		{"EmailUnique", testEmailUnique},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newOpener(t)) })
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mut(k store.Kind, id string, r store.Record) store.Mutation {
	b, err := store.Encode(r)
	if err != nil {
		panic(err)
	}
	return store.Mutation{Kind: k, ID: id, Value: b}
}

func load(t *testing.T, be store.Backend) (map[string]store.Record, uint64) {
	t.Helper()
	got := map[string]store.Record{}
	seq, err := be.Load(context.Background(), func(c store.Change) error {
		r, err := store.Decode(c.Kind, c.Value)
		if err != nil {
			return err
		}
		got[string(c.Kind)+"/"+c.ID] = r
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got, seq
}

func testRoundTrip(t *testing.T, open Opener) {
	be := open(t)
	ctx := context.Background()
	d := &store.Device{ID: "d1", Serial: "SN1", Ownership: store.OwnershipCorporate, State: store.DeviceActive, Trust: store.TrustHigh}
	ch, err := be.Commit(ctx, []store.Mutation{mut(store.KindDevice, "d1", d), mut(store.KindBlob, "b", &store.Blob{ID: "b", Data: []byte{0, 1, 2}})})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(ch) != 2 || ch[0].Seq == 0 || ch[1].Seq <= ch[0].Seq {
		t.Fatalf("changes = %+v, want two with increasing sequences", ch)
	}
	be.Close()
	be = open(t)
	defer be.Close()
	got, seq := load(t, be)
	if seq < ch[1].Seq {
		t.Errorf("Load seq = %d, want >= %d", seq, ch[1].Seq)
	}
	gd, ok := got["device/d1"].(*store.Device)
	if !ok || gd.Serial != "SN1" || gd.Trust != store.TrustHigh || gd.Ownership != store.OwnershipCorporate {
		t.Errorf("device after reopen = %+v", got["device/d1"])
	}
	if b, ok := got["blob/b"].(*store.Blob); !ok || string(b.Data) != "\x00\x01\x02" {
		t.Errorf("blob after reopen = %+v", got["blob/b"])
	}
}

func testDelete(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	if _, err := be.Commit(ctx, []store.Mutation{mut(store.KindUser, "u1", &store.User{ID: "u1", Email: "a@example.com"})}); err != nil {
		t.Fatal(err)
	}
	ch, err := be.Commit(ctx, []store.Mutation{{Kind: store.KindUser, ID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || !ch[0].Deleted {
		t.Errorf("delete change = %+v, want Deleted", ch)
	}
	if got, _ := load(t, be); len(got) != 0 {
		t.Errorf("after delete Load = %v, want empty", got)
	}
}

func testCreateAtomic(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	ctx := context.Background()
	inv := &store.Invite{ID: "i1", Role: "owner"}
	first := mut(store.KindInvite, "i1", inv)
	first.Create = true
	if _, err := be.Commit(ctx, []store.Mutation{first}); err != nil {
		t.Fatalf("first Create: %v", err)
	}
	other := mut(store.KindUser, "u2", &store.User{ID: "u2"})
	_, err := be.Commit(ctx, []store.Mutation{other, first})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second Create err = %v, want ErrExists", err)
	}
	if got, _ := load(t, be); got["user/u2"] != nil {
		t.Error("a failed Create committed the rest of its transaction")
	}
}

func testSequence(t *testing.T, open Opener) {
	be := open(t)
	ctx := context.Background()
	var last uint64
	for i := range 20 {
		ch, err := be.Commit(ctx, []store.Mutation{mut(store.KindBlob, "b", &store.Blob{ID: "b", Data: []byte{byte(i)}})})
		if err != nil {
			t.Fatal(err)
		}
		if ch[0].Seq <= last {
			t.Fatalf("commit %d got seq %d after %d", i, ch[0].Seq, last)
		}
		last = ch[0].Seq
	}
	be.Close()
	be = open(t)
	defer be.Close()
	ch, err := be.Commit(ctx, []store.Mutation{mut(store.KindBlob, "c", &store.Blob{ID: "c"})})
	if err != nil {
		t.Fatal(err)
	}
	if ch[0].Seq <= last {
		t.Errorf("after reopen seq %d reused (last was %d)", ch[0].Seq, last)
	}
}

func openStore(t *testing.T, be store.Backend) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), be, quiet())
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	return st
}

func testStoreVisible(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	d := &store.Device{ID: "d1", CertSerial: "1234", Trust: store.TrustMedium}
	if err := st.Write(ctx, store.Put(d), store.Put(&store.Revocation{ID: "99", RevokedAt: time.Unix(1, 0)})); err != nil {
		t.Fatal(err)
	}
	if got, ok := st.DeviceByCertSerial("1234"); !ok || got.ID != "d1" {
		t.Errorf("DeviceByCertSerial after Write = %v, %v", got, ok)
	}
	if !st.IsRevoked("99") || st.IsRevoked("1234") {
		t.Error("IsRevoked does not reflect the write")
	}
	if err := st.Write(ctx, store.Delete(store.KindDevice, "d1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Device("d1"); ok {
		t.Error("deleted device still visible")
	}
	if err := st.Write(ctx, store.Create(&store.Revocation{ID: "99"})); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create of existing record: err = %v, want ErrExists", err)
	}
}

func testRestart(t *testing.T, open Opener) {
	be := open(t)
	st := openStore(t, be)
	ctx := context.Background()
	for i := range 50 {
		if err := st.Write(ctx, store.Put(&store.Device{ID: fmt.Sprintf("d%02d", i), Serial: fmt.Sprintf("S%d", i)})); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Write(ctx, store.Put(&store.Token{ID: "t1", SecretHash: "h1", Role: "owner"})); err != nil {
		t.Fatal(err)
	}
	seq := st.Seq()
	st.Close()
	be.Close()

	be = open(t)
	defer be.Close()
	st = openStore(t, be)
	defer st.Close()
	if n := len(st.Devices()); n != 50 {
		t.Errorf("after restart %d devices, want 50", n)
	}
	if tok, ok := st.TokenBySecretHash("h1"); !ok || tok.Role != "owner" {
		t.Errorf("token after restart = %v, %v", tok, ok)
	}
	if d, ok := st.DeviceBySerial("S7"); !ok || d.ID != "d07" {
		t.Errorf("serial index after restart = %v, %v", d, ok)
	}
	if st.Seq() < seq {
		t.Errorf("seq after restart %d < %d", st.Seq(), seq)
	}
}

func testConcurrent(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				errs <- st.Write(ctx, store.Put(&store.Device{ID: fmt.Sprintf("g%d-%d", g, i)}))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(st.Devices()); n != 400 {
		t.Errorf("%d devices visible, want 400", n)
	}
}

func testCreateRace(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- st.Write(ctx, store.Create(&store.Invite{ID: "once", Role: fmt.Sprint(i)}), store.Put(&store.Blob{ID: fmt.Sprint("b", i)}))
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d creators won, want exactly 1", won)
	}
}

func testUpdate(t *testing.T, open Opener) {
	be := open(t)
	defer be.Close()
	st := openStore(t, be)
	defer st.Close()
	ctx := context.Background()
	s := &store.Session{ID: "s1", Email: "a@example.com"}
	if err := st.Write(ctx, store.Update(s)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update of a missing record: err = %v, want ErrNotFound", err)
	}
	if err := st.Write(ctx, store.Put(s)); err != nil {
		t.Fatal(err)
	}
	upd := *s
	upd.Email = "b@example.com"
	if err := st.Write(ctx, store.Update(&upd)); err != nil {
		t.Fatalf("Update of a present record: %v", err)
	}
	if got, _ := st.Session("s1"); got.Email != "b@example.com" {
		t.Errorf("after Update email = %q", got.Email)
	}
	if err := st.Write(ctx, store.Delete(store.KindSession, "s1")); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Update(&upd), store.Put(&store.Blob{ID: "side"})); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update after delete: err = %v, want ErrNotFound", err)
	}
	if _, ok := st.Session("s1"); ok {
		t.Error("an Update brought a deleted record back")
	}
	if _, ok := st.Blob("side"); ok {
		t.Error("a failed Update committed the rest of its transaction")
	}
	// In one batch: delete then update fails.
	if err := st.Write(ctx, store.Put(s), store.Delete(store.KindSession, "s1"), store.Update(&upd)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete then update in one write: err = %v, want ErrNotFound", err)
	}
}

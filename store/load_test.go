package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-memdb"
)

// listBackend is a hand-written ConcurrentLoader whose Load hands out a
// fixed list of changes and then a fixed error; it counts the records fn
// accepted.
type listBackend struct {
	changes  []Change
	seq      uint64
	err      error // returned by Load after the last change
	accepted int
}

func (b *listBackend) Commit(context.Context, []Mutation) ([]Change, error) {
	return nil, errors.New("read-only fake")
}
func (b *listBackend) Ping(context.Context) error { return nil }
func (b *listBackend) Close() error               { return nil }
func (b *listBackend) ValuesOutliveLoad()         {}

func (b *listBackend) Load(_ context.Context, fn func(Change) error) (uint64, error) {
	for _, c := range b.changes {
		if err := fn(c); err != nil {
			return 0, err
		}
		b.accepted++
	}
	return b.seq, b.err
}

// fleetChanges is n devices and n certificates, interleaved as a
// database hands them out, with one blob and one audit event (kept out of
// the read model) in the middle.
func fleetChanges(t *testing.T, n int) []Change {
	t.Helper()
	var out []Change
	add := func(r Record) {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Change{Seq: uint64(len(out) + 1), Kind: r.Kind(), ID: r.Key(), Value: b})
	}
	for i := range n {
		add(&Device{ID: fmt.Sprintf("dev_%05d", i), Serial: fmt.Sprintf("S%05d", i), OwnerEmail: fmt.Sprintf("u%d@example.com", i%7)})
		add(&Certificate{ID: fmt.Sprintf("%d", 1000+i), DeviceID: fmt.Sprintf("dev_%05d", i), DER: []byte{1, 2, 3}})
		if i == n/2 {
			add(&Blob{ID: "ca/keys", Data: []byte("sealed")})
			add(&AuditEvent{ID: "audit_1"})
		}
	}
	return out
}

func openList(be *listBackend) (*Store, error) {
	return Open(context.Background(), be, slog.New(slog.DiscardHandler))
}

// TestConcurrentLoadHoldsEveryRecord: a load decoded on several
// goroutines holds every record of the backend, indexed, at the sequence
// the backend returned.
func TestConcurrentLoadHoldsEveryRecord(t *testing.T) {
	const n = 5*loadBatch + 17 // several batches and a short last one
	be := &listBackend{changes: fleetChanges(t, n), seq: 99_999}
	s, err := openList(be)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Seq() != 99_999 {
		t.Errorf("Seq() = %d, want the backend's 99999", s.Seq())
	}
	if got := len(s.Devices()); got != n {
		t.Errorf("%d devices, want %d", got, n)
	}
	for _, i := range []int{0, loadBatch - 1, loadBatch, n / 2, n - 1} {
		id := fmt.Sprintf("dev_%05d", i)
		d, ok := s.Device(id)
		if !ok || d.Serial != fmt.Sprintf("S%05d", i) {
			t.Errorf("device %s = %+v, %v", id, d, ok)
		}
		c, ok := s.Certificate(fmt.Sprintf("%d", 1000+i))
		if !ok || c.DeviceID != id {
			t.Errorf("certificate of %s = %+v, %v", id, c, ok)
		}
		if got, ok := first[Device](s.Txn(), KindDevice, "serial", fmt.Sprintf("S%05d", i)); !ok || got.ID != id {
			t.Errorf("serial index for %s = %+v, %v", id, got, ok)
		}
	}
	if b, ok := s.Blob("ca/keys"); !ok || string(b.Data) != "sealed" {
		t.Errorf("blob = %+v, %v", b, ok)
	}
	if _, ok := first[Blob](s.Txn(), KindBlob, "id_prefix", "ca/"); !ok {
		t.Error("id_prefix lookup found nothing")
	}
}

// TestConcurrentLoadNamesFirstCorruptRecord: with two corrupt records in
// different batches, start-up stops naming the first one read, and stops
// reading soon after instead of loading the rest.
func TestConcurrentLoadNamesFirstCorruptRecord(t *testing.T) {
	const n = 200 * loadBatch
	changes := fleetChanges(t, n)
	bad, later := 3*loadBatch+5, 6*loadBatch+1
	changes[bad].Value = []byte("{not json")
	changes[later].Value = []byte("[]")
	be := &listBackend{changes: changes}
	_, err := openList(be)
	want := fmt.Sprintf("%s/%s is corrupt", changes[bad].Kind, changes[bad].ID)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one naming %q", err, want)
	}
	if be.accepted == len(changes) {
		t.Error("the whole backend was read after the corrupt record")
	}
}

// TestConcurrentLoadReturnsBackendError: an error of the backend's Load
// stops start-up as it is.
func TestConcurrentLoadReturnsBackendError(t *testing.T) {
	boom := errors.New("connection lost")
	be := &listBackend{changes: fleetChanges(t, 3*loadBatch), err: boom}
	if _, err := openList(be); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

// TestLoadOneWorker: the pipeline with one decoder (GOMAXPROCS=1) and no
// records at all.
func TestLoadOneWorker(t *testing.T) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		t.Fatal(err)
	}
	txn := db.Txn(true)
	defer txn.Abort()
	seq, err := load(context.Background(), &listBackend{seq: 7}, txn, 1)
	if err != nil || seq != 7 {
		t.Fatalf("load = %d, %v", seq, err)
	}
	be := &listBackend{changes: fleetChanges(t, loadBatch+1)}
	if _, err := load(context.Background(), be, txn, 1); err != nil {
		t.Fatal(err)
	}
	if it, _ := txn.Get(string(KindDevice), "id"); it.Next() == nil {
		t.Error("no device loaded")
	}
}

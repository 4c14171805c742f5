package enrollment

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// quietDB is a replica's link to PostgreSQL whose change notifications
// never arrive: it learns of other replicas' writes only by catching up.
type quietDB struct{ *pgstore.DB }

func (quietDB) Notify() <-chan struct{} { return nil }

// replicaService is an enrollment service on its own store over dsn.
func replicaService(t *testing.T, dsn, keys string, quiet bool) *Service {
	t.Helper()
	ctx := context.Background()
	db, err := pgstore.Open(ctx, dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var be store.Backend = db
	if quiet {
		be = quietDB{db}
	}
	st, err := store.OpenWith(ctx, be, slog.New(slog.DiscardHandler), store.Options{MaxStaleness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c, err := ca.New(ctx, ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: keys}, Clock: time.Now, CRLURL: "https://portier.example/ca/crl"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	svc, err := New(Options{Store: st, CA: c, Clock: time.Now, ExternalURL: "https://portier.example"})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestIdempotencyKeyRetriedOnLaggingReplica: a client whose request
// reached replica A (the action committed, the answer lost) retries at
// once on replica B, which has not yet applied A's write. B answers with
// A's action, not an error, and queues nothing more.
func TestIdempotencyKeyRetriedOnLaggingReplica(t *testing.T) {
	dsn := pgtest.DSN(t)
	keys := filepath.Join(t.TempDir(), "ca")
	a := replicaService(t, dsn, keys, false)
	dev := &store.Device{ID: "dev-retry", Ownership: store.OwnershipCorporate, State: store.DeviceActive, Platform: "linux"}
	if err := a.st.Write(context.Background(), store.Put(dev)); err != nil {
		t.Fatal(err)
	}
	b := replicaService(t, dsn, keys, true)
	req := ActionRequest{Type: ActionLock, Params: map[string]string{"reason": "lost laptop"}}
	first, created, err := a.RequestAction(context.Background(), admin, dev.ID, req, "retry-after-reset")
	if err != nil || !created {
		t.Fatalf("on A: %v, created %v", err, created)
	}
	again, created, err := b.RequestAction(context.Background(), admin, dev.ID, req, "retry-after-reset")
	if err != nil {
		t.Fatalf("the retry on B, not yet caught up: %v", err)
	}
	if again.ID != first.ID || created {
		t.Errorf("the retry on B answered action %s (created %v), want A's %s", again.ID, created, first.ID)
	}
	if n := len(b.st.ActionsOf(dev.ID)); n != 1 {
		t.Errorf("device has %d actions, want 1", n)
	}
}

// TestWipeAcknowledgedOnReplicaThatMissedARevocation: replica A revokes a
// device's certificate; replica B, which has not applied that yet (its
// notifications held), records the device's selective wipe. B's one write
// would revoke the certificate again and is refused by the database; B
// catches up and writes again without it. The wipe is recorded and A's
// revocation, the first, stands.
func TestWipeAcknowledgedOnReplicaThatMissedARevocation(t *testing.T) {
	dsn := pgtest.DSN(t)
	keys := filepath.Join(t.TempDir(), "ca")
	ctx := context.Background()
	a := replicaService(t, dsn, keys, false)
	ea := &env{st: a.st, svc: a}
	res := ea.mustEnroll(t, store.OwnershipBYOD, agentwire.DeviceInfo{})
	serial := res.Chain[0].SerialNumber.String()
	act, _, err := a.RequestAction(ctx, admin, res.Device.ID, ActionRequest{Type: ActionSelectiveWipe}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Poll(ctx, res.Device, 0); err != nil {
		t.Fatal(err)
	}
	b := replicaService(t, dsn, keys, true)
	if err := a.ca.Revoke(ctx, serial, ca.ReasonKeyCompromise, "reported stolen"); err != nil {
		t.Fatal(err)
	}
	if b.st.IsRevoked(serial) {
		t.Log("B caught up before the acknowledgment: the race was not exercised this time")
	}
	done, err := b.ReportResult(ctx, res.Device, act.ID, agentwire.ActionResult{Status: store.ActionAcknowledged})
	if err != nil || done.Status != store.ActionAcknowledged {
		t.Fatalf("acknowledgment on B: %+v %v", done, err)
	}
	if err := a.st.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.st.Device(res.Device.ID); d.State != store.DeviceRetired {
		t.Errorf("device %s, want retired", d.State)
	}
	if r, ok := a.st.Revocation(serial); !ok || r.ReasonCode != ca.ReasonKeyCompromise {
		t.Errorf("revocation %+v %v, want A's (key compromise)", r, ok)
	}
}

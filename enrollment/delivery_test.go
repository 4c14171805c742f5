package enrollment

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/boltstore"
)

// cutBackend is the real bolt backend with a switch that makes the next
// commit fail as a database connection lost mid-request would, and a
// record of the commits that went through.
type cutBackend struct {
	store.Backend
	mu      sync.Mutex
	cutNext bool
	commits [][]store.Mutation
}

var errCut = errors.New("test: the connection to the database was cut")

func (b *cutBackend) Commit(ctx context.Context, muts []store.Mutation) ([]store.Change, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cutNext {
		b.cutNext = false
		return nil, errCut
	}
	ch, err := b.Backend.Commit(ctx, muts)
	if err == nil {
		b.commits = append(b.commits, slices.Clone(muts))
	}
	return ch, err
}

// cut makes the next commit fail and forgets the commits so far.
func (b *cutBackend) cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutNext, b.commits = true, nil
}

// committed returns the commits since the last cut.
func (b *cutBackend) committed() [][]store.Mutation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.commits)
}

func newCutEnv(t *testing.T) (*env, *cutBackend) {
	t.Helper()
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "portier.db"))
	if err != nil {
		t.Fatal(err)
	}
	be := &cutBackend{Backend: bolt}
	st, err := store.Open(context.Background(), be, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); bolt.Close() })
	return newEnvOn(t, st, func(o *Options) { o.Config.WipeEnabled = true }), be
}

// kinds counts a commit's mutations by kind.
func kinds(muts []store.Mutation) map[store.Kind]int {
	n := map[store.Kind]int{}
	for _, m := range muts {
		n[m.Kind]++
	}
	return n
}

// TestWipeAcknowledgmentIsOneWrite: recording a wipe's (or selective
// wipe's) acknowledgment either lands whole — the certificates' revocation,
// the action acknowledged, the device wiped or retired, its history — or
// not at all. The database cut during the write (a replica killed at that
// instant) leaves the device as it was, still holding a valid certificate
// to report again with; the report repeated then does everything in one
// commit.
func TestWipeAcknowledgmentIsOneWrite(t *testing.T) {
	for _, tc := range []struct {
		typ   string
		own   store.Ownership
		state store.DeviceState
	}{
		{ActionWipe, store.OwnershipCorporate, store.DeviceWiped},
		{ActionSelectiveWipe, store.OwnershipBYOD, store.DeviceRetired},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			e, be := newCutEnv(t)
			ctx := context.Background()
			res := e.mustEnroll(t, tc.own, agentwire.DeviceInfo{})
			serial := res.Chain[0].SerialNumber.String()
			a, _, err := e.svc.RequestAction(ctx, admin, res.Device.ID, ActionRequest{Type: tc.typ}, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Poll(ctx, res.Device, 0); err != nil {
				t.Fatal(err)
			}
			ack := agentwire.ActionResult{Status: store.ActionAcknowledged, Result: "done"}

			be.cut()
			if _, err := e.svc.ReportResult(ctx, res.Device, a.ID, ack); !errors.Is(err, errCut) {
				t.Fatalf("acknowledgment during the cut: %v, want the cut", err)
			}
			if e.st.IsRevoked(serial) {
				t.Error("the cut write left the certificate revoked")
			}
			if s, _ := e.st.Action(a.ID); s.Status != store.ActionDelivered {
				t.Errorf("the cut write left the action %s", s.Status)
			}
			if d, _ := e.st.Device(res.Device.ID); d.State != store.DeviceActive {
				t.Errorf("the cut write left the device %s", d.State)
			}
			if n := len(be.committed()); n != 0 {
				t.Errorf("%d commits went through during the cut", n)
			}

			done, err := e.svc.ReportResult(ctx, res.Device, a.ID, ack)
			if err != nil || done.Status != store.ActionAcknowledged {
				t.Fatalf("the repeated acknowledgment: %+v %v", done, err)
			}
			commits := be.committed()
			if len(commits) != 1 {
				t.Fatalf("the acknowledgment took %d commits, want 1", len(commits))
			}
			n := kinds(commits[0])
			if n[store.KindRevocation] != 1 || n[store.KindAction] != 1 || n[store.KindDevice] != 1 || n[store.KindDeviceEvent] < 2 {
				t.Errorf("the one commit holds %v: want the revocation, the action, the device and its history", n)
			}
			if !e.st.IsRevoked(serial) {
				t.Error("certificate not revoked")
			}
			if s, _ := e.st.Action(a.ID); s.Status != store.ActionAcknowledged {
				t.Errorf("action %s", s.Status)
			}
			if d, _ := e.st.Device(res.Device.ID); d.State != tc.state {
				t.Errorf("device %s, want %s", d.State, tc.state)
			}
		})
	}
}

// TestRetireIsOneWrite: retiring a device revokes its certificates in the
// same commit as the device's new state and the audit entry; a cut commit
// leaves neither.
func TestRetireIsOneWrite(t *testing.T) {
	e, be := newCutEnv(t)
	ctx := context.Background()
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	serial := res.Chain[0].SerialNumber.String()
	be.cut()
	if _, err := e.svc.Retire(ctx, admin, res.Device.ID, "lost"); !errors.Is(err, errCut) {
		t.Fatalf("retire during the cut: %v", err)
	}
	if e.st.IsRevoked(serial) {
		t.Error("the cut write left the certificate revoked")
	}
	if _, err := e.svc.Retire(ctx, admin, res.Device.ID, "lost"); err != nil {
		t.Fatal(err)
	}
	commits := be.committed()
	if len(commits) != 1 {
		t.Fatalf("retiring took %d commits, want 1", len(commits))
	}
	if n := kinds(commits[0]); n[store.KindRevocation] != 1 || n[store.KindDevice] != 1 || n[store.KindAudit] != 1 {
		t.Errorf("the one commit holds %v", n)
	}
	if !e.st.IsRevoked(serial) {
		t.Error("certificate not revoked")
	}
}

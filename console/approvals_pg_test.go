package console

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// openReplica opens one replica's store on the shared PostgreSQL database.
func openReplica(t *testing.T, dsn string) *store.Store {
	t.Helper()
	ctx := context.Background()
	db, err := pgstore.Open(ctx, dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); db.Close() })
	return st
}

// TestApprovalRaceTwoReplicas: two replicas on one PostgreSQL database;
// the owner approves through one while a second admin approves through
// the other at the same moment. The compare-and-set on the request lets
// one win (200) and the other gets 409; the wipe is queued once.
func TestApprovalRaceTwoReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	caDir := filepath.Join(t.TempDir(), "ca")
	cfg := enrollment.Config{WipeEnabled: true}
	a := newMDMEnvOn(t, openReplica(t, dsn), caDir, cfg)
	b := newMDMEnvOn(t, openReplica(t, dsn), caDir, cfg)
	corp, _ := a.enroll(t, "corporate")
	secret := secondAdmin(t, a.st)
	for round := range 5 {
		code, body := a.call(t, RoleAdmin, "POST", "/api/v1/devices/"+corp+"/actions", `{"type":"wipe"}`, nil)
		if code != http.StatusAccepted {
			t.Fatalf("wipe request: %d %s", code, body)
		}
		path := "/api/v1/approvals/" + pendingFor(t, a.st, corp).ID + "/approve"
		if err := b.st.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		race(t, a.st, corp, round+1,
			func() int { code, _ := a.call(t, RoleOwner, "POST", path, "", nil); return code },
			func() int { code, _ := bearer(b.con, secret, "POST", path); return code })
	}
}

// TestApprovalSettingsAndExpiryTwoReplicas: on PostgreSQL, the threshold
// set through one replica is in force on the other once caught up; the
// expiry sweep on one replica expires a request made on the other, once,
// even when both sweep.
func TestApprovalSettingsAndExpiryTwoReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	caDir := filepath.Join(t.TempDir(), "ca")
	cfg := enrollment.Config{WipeEnabled: true}
	a := newMDMEnvOn(t, openReplica(t, dsn), caDir, cfg)
	b := newMDMEnvOn(t, openReplica(t, dsn), caDir, cfg)
	corp, _ := a.enroll(t, "corporate")
	if code, body := a.call(t, RoleAdmin, "PUT", "/api/v1/approvals/settings", `{"bulk_threshold":3}`, nil); code != http.StatusOK {
		t.Fatalf("settings: %d %s", code, body)
	}
	ctx := context.Background()
	if err := b.st.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if _, body := b.call(t, RoleAuditor, "GET", "/api/v1/approvals/settings", "", nil); jsonField(body, "source") != "store" || !strings.Contains(body, `"bulk_threshold":3`) {
		t.Errorf("the other replica's settings: %s", body)
	}
	code, body := a.call(t, RoleAdmin, "POST", "/api/v1/devices/actions", bulkBody("wipe", corp), nil)
	if code != http.StatusAccepted {
		t.Fatalf("wipe request: %d %s", code, body)
	}
	if err := b.st.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(DefaultApprovalTTL + time.Minute)
	na, errA := a.st.ExpireApprovals(ctx, later)
	nb, errB := b.st.ExpireApprovals(ctx, later)
	if errA != nil || errB != nil || na+nb != 1 {
		t.Fatalf("sweeps on both replicas: %d (%v) and %d (%v), want one expiry in all", na, errA, nb, errB)
	}
	if err := a.st.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if apr, _ := a.st.Approval(jsonField(body, "id")); apr.State != store.ApprovalExpired {
		t.Errorf("after the sweeps: %+v", apr)
	}
}

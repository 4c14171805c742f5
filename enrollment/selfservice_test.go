package enrollment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

func wantLimited(t *testing.T, err error, what string) {
	t.Helper()
	var ae *apperr.Error
	if apperr.Status(err) != http.StatusTooManyRequests || !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		t.Fatalf("%s: err = %v, want 429 with a retry time", what, err)
	}
}

// TestSelfServiceQuotaAndLimits: at most MaxOpenSelfServiceCodes open codes
// per user; a used or revoked code frees a place; the per-user limit holds
// over the hour whatever happens to the codes; the window ends on time.
func TestSelfServiceQuotaAndLimits(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ada := Actor{ID: "user:ada@example.com", RemoteIP: "198.51.100.7"}
	var ids []string
	for range MaxOpenSelfServiceCodes {
		ic, err := e.svc.SelfServiceCode(ctx, ada, "ada@example.com", store.OwnershipCorporate)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ic.Record.ID)
	}
	_, err := e.svc.SelfServiceCode(ctx, ada, "ada@example.com", store.OwnershipCorporate)
	wantLimited(t, err, "quota")
	if ae := err.(*apperr.Error); ae.RetryAfter != DefaultCodeTTL {
		t.Errorf("quota retry after %s, want the first code's expiry (%s)", ae.RetryAfter, DefaultCodeTTL)
	}
	// Another user is not affected.
	if _, err := e.svc.SelfServiceCode(ctx, Actor{ID: "user:bob@example.com", RemoteIP: "198.51.100.8"}, "bob@example.com", ""); err != nil {
		t.Fatalf("another user: %v", err)
	}
	// Revoking codes frees places, up to the per-user limit of the hour.
	for _, id := range ids {
		if _, err := e.svc.RevokeCode(ctx, admin, id); err != nil {
			t.Fatal(err)
		}
	}
	for i := MaxOpenSelfServiceCodes + 1; i < selfServicePerUser.Max; i++ {
		if _, err := e.svc.SelfServiceCode(ctx, ada, "ada@example.com", ""); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	_, err = e.svc.SelfServiceCode(ctx, ada, "ada@example.com", "")
	wantLimited(t, err, "per-user limit")
	// An hour later (the codes expired too), codes are issued again.
	e.clock.Advance(selfServicePerUser.Window)
	if _, err := e.svc.SelfServiceCode(ctx, ada, "ada@example.com", ""); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

// TestSelfServiceLimitSharedAcrossReplicas: two services on two
// connections to one PostgreSQL database (two replicas) share the per-address
// count, so together they allow what one would.
func TestSelfServiceLimitSharedAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var svcs []*Service
	for range 2 {
		db, err := pgstore.Open(ctx, dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		e := newEnv(t, func(o *Options) { o.Counter = store.CounterFor(db) })
		svcs = append(svcs, e.svc)
	}
	issued := 0
	var err error
	for i := 0; i < 2*selfServicePerIP.Max && err == nil; i++ {
		email := fmt.Sprintf("user%d@example.com", i/MaxOpenSelfServiceCodes)
		_, err = svcs[i%2].SelfServiceCode(ctx, Actor{ID: "user:" + email, RemoteIP: "203.0.113.9"}, email, "")
		if err == nil {
			issued++
		}
	}
	wantLimited(t, err, "per-address limit across replicas")
	if issued != selfServicePerIP.Max {
		t.Errorf("two replicas issued %d codes to one address, want %d", issued, selfServicePerIP.Max)
	}
}

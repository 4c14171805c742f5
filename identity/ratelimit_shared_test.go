package identity

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestPasswordLimitSharedAcrossReplicas: password guesses against one
// account through three replicas on one PostgreSQL database. Each
// replica's own buckets would allow 5 (15 in all); the shared count stops
// them at sharedAccountLimit.Max.
func TestPasswordLimitSharedAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	var replicas []*fixture
	for range 3 {
		db, err := pgstore.Open(ctx, dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f := newFixture(t)
		f.svc.counter = store.CounterFor(db)
		replicas = append(replicas, f)
	}
	for _, f := range replicas {
		f.addUser(t, "ada@example.com", goodPassword)
	}
	flow := NewFlowSecret()
	refused, tried := 0, 0
	for i := range 3 * accountBurst {
		ip := ClientInfo{IP: "198.51.100." + string(rune('1'+i%3))}
		_, err := replicas[i%3].svc.SignInPassword(ctx, "ada@example.com", "wrong password!!", "", flow, ip)
		switch apperr.Status(err) {
		case http.StatusUnauthorized:
			tried++
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if tried != sharedAccountLimit.Max {
		t.Errorf("three replicas let %d guesses through (%d refused), want %d", tried, refused, sharedAccountLimit.Max)
	}
}

// TestSignInStartsCountedAcrossReplicas: once other replicas have counted
// sharedStartLimit.Max sign-in starts from an address in this window, this
// replica refuses the next one although its own bucket is full.
func TestSignInStartsCountedAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	shared := store.NewMemoryCounter(100)
	f.svc.counter = shared
	ctx := context.Background()
	for range sharedStartLimit.Max {
		if _, err := shared.Count(ctx, "signin/start/198.51.100.4", sharedStartLimit.Window, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	err := f.svc.allowStart(ctx, ClientInfo{IP: "198.51.100.4"})
	var ae *apperr.Error
	if apperr.Status(err) != http.StatusTooManyRequests || !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		t.Errorf("start past the shared limit: %v, want 429 with a retry time", err)
	}
	if err := f.svc.allowStart(ctx, ClientInfo{IP: "198.51.100.5"}); err != nil {
		t.Errorf("another address: %v", err)
	}
}

// TestHandoffsPerSessionAreLimited: a signed-in script replaying the
// sign-in page for an application gets sharedHandoffLimit.Max hand-offs
// (each a stored record) and then 429 with a retry time; another session
// is not affected.
func TestHandoffsPerSessionAreLimited(t *testing.T) {
	f := newFixture(t)
	f.svc.counter = store.NewMemoryCounter(100)
	ctx := context.Background()
	sess := &store.Session{ID: "s_script"}
	rd := attempted("https://wiki.localhost:8443/x")
	for i := range sharedHandoffLimit.Max {
		if _, err := f.svc.Continue(ctx, sess, rd); err != nil {
			t.Fatalf("hand-off %d: %v", i+1, err)
		}
	}
	_, err := f.svc.Continue(ctx, sess, rd)
	var ae *apperr.Error
	if apperr.Status(err) != http.StatusTooManyRequests || !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		t.Fatalf("hand-off past the limit: %v, want 429 with a retry time", err)
	}
	if n := len(scan[store.Handoff](f.st, store.KindHandoff)); n != sharedHandoffLimit.Max {
		t.Errorf("%d hand-offs stored, want %d", n, sharedHandoffLimit.Max)
	}
	if _, err := f.svc.Continue(ctx, &store.Session{ID: "s_other"}, rd); err != nil {
		t.Errorf("another session: %v", err)
	}
}

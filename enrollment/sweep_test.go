package enrollment

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestSweepDeletesExpiredCodesAndClaims (issue 9 item 5): codes, tokens and
// the claims of their uses disappear CodeKeep after expiry; live codes, and
// codes still shown as recently expired, stay.
func TestSweepDeletesExpiredCodesAndClaims(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ada := Actor{ID: "user:ada@example.com", RemoteIP: "198.51.100.7"}
	short, err := e.svc.SelfServiceCode(ctx, ada, "ada@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.svc.CreateToken(ctx, admin, TokenRequest{Name: "lab", MaxUses: 3, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Two uses of the token, as enrollments claim them.
	for n := 1; n <= 2; n++ {
		if err := e.st.Write(ctx, store.Create(&store.Claim{ID: claimID(tok.Record.ID, n), At: e.clock.Now()})); err != nil {
			t.Fatal(err)
		}
	}
	other := &store.Claim{ID: "handoff/unrelated", At: e.clock.Now()}
	if err := e.st.Write(ctx, store.Put(other)); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Hour + CodeKeep - time.Second) // the code expired long ago, the token just within CodeKeep
	late, err := e.svc.CreateCode(ctx, admin, CodeRequest{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.SweepCodes(ctx); err != nil || n != 1 {
		t.Fatalf("first sweep deleted %d codes, %v; want 1", n, err)
	}
	if _, ok := e.st.EnrollCode(short.Record.ID); ok {
		t.Error("the self-service code expired more than CodeKeep ago is still stored")
	}
	if _, ok := e.st.EnrollCode(tok.Record.ID); !ok || len(e.st.ClaimsWithPrefix("enroll/"+tok.Record.ID+"/")) != 2 {
		t.Fatal("the token within CodeKeep of its expiry, or its claims, were swept")
	}

	e.clock.Advance(time.Second)
	if n, err := e.svc.SweepCodes(ctx); err != nil || n != 1 {
		t.Fatalf("second sweep deleted %d codes, %v; want 1", n, err)
	}
	if _, ok := e.st.EnrollCode(tok.Record.ID); ok {
		t.Error("the expired token is still stored")
	}
	if c := e.st.ClaimsWithPrefix("enroll/"); len(c) != 0 {
		t.Errorf("claims of swept codes remain: %d", len(c))
	}
	if !e.st.Claimed(other.ID) {
		t.Error("the sweep deleted another package's claim")
	}
	if _, ok := e.st.EnrollCode(late.Record.ID); !ok {
		t.Error("a live code was swept")
	}
	// A swept code's secret no longer enrolls anything.
	if _, _, err := e.svc.usableCode(short.Code, e.clock.Now()); err == nil {
		t.Error("a swept code is still usable")
	}
}

package identity

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestSweepDeletesExpiredInvitesAndTheirClaims (issue 9 item 5): set-up
// links (invites) and the claims of used ones disappear once expired; a
// live invite and its claim stay.
func TestSweepDeletesExpiredInvitesAndTheirClaims(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	used := &store.Invite{ID: "used", Role: "owner", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	unused := &store.Invite{ID: "unused", Role: "owner", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	live := &store.Invite{ID: "live", Role: "owner", CreatedAt: now, ExpiresAt: now.Add(48 * time.Hour)}
	err := f.st.Write(ctx, store.Put(used), store.Put(unused), store.Put(live),
		store.Put(&store.Claim{ID: "invite/used", At: now}), store.Put(&store.Claim{ID: "invite/live", At: now}),
		store.Put(&store.Claim{ID: "invite/orphan", At: now}))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Minute)
	f.svc.Maintain(ctx)
	for _, id := range []string{"used", "unused", "live"} {
		if _, ok := f.st.Invite(id); !ok {
			t.Errorf("invite %s swept before it expired", id)
		}
	}
	if !f.st.Claimed("invite/used") || !f.st.Claimed("invite/live") {
		t.Error("the claim of an unexpired invite was swept: its link could be used again")
	}
	if f.st.Claimed("invite/orphan") {
		t.Error("the claim of an invite that no longer exists was kept")
	}
	f.clock.Advance(time.Hour)
	f.svc.Maintain(ctx)
	for _, id := range []string{"used", "unused"} {
		if _, ok := f.st.Invite(id); ok {
			t.Errorf("expired invite %s is still stored", id)
		}
	}
	if f.st.Claimed("invite/used") {
		t.Error("the claim of an expired invite is still stored")
	}
	if _, ok := f.st.Invite("live"); !ok || !f.st.Claimed("invite/live") {
		t.Error("the live invite or its claim was swept")
	}
}

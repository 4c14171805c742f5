package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// testIdentityRecords checks what sign-in relies on, on every backend and
// across a restart: users are found by e-mail with ASCII case ignored and
// never through a Unicode look-alike; identity links are found by issuer
// and subject and by user; a link can be created only once.
func testIdentityRecords(t *testing.T, open Opener) {
	be := open(t)
	st := openStore(t, be)
	ctx := context.Background()
	now := time.Unix(1700000000, 0).UTC()
	link := &store.IdentityLink{ID: store.LinkID("https://idp.example", "sub-1"), UserID: "u1", Provider: "corp",
		Issuer: "https://idp.example", Subject: "sub-1", Method: store.LinkCreated, CreatedAt: now}
	if err := st.Write(ctx, store.Put(&store.User{ID: "u1", Email: "kim@example.com", CreatedAt: now}),
		store.Put(&store.User{ID: "u2", Email: "\u212Aate@example.com", CreatedAt: now}), // stored before the e-mail rule
		store.Create(link)); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, store.Create(&store.IdentityLink{ID: link.ID, UserID: "u2"})); !errors.Is(err, store.ErrExists) {
		t.Errorf("second link of the same issuer and subject: err = %v, want ErrExists", err)
	}
	st.Close()
	be.Close()

	be = open(t)
	defer be.Close()
	st = openStore(t, be)
	defer st.Close()
	for _, tc := range []struct {
		email string
		want  string
	}{
		{"kim@example.com", "u1"},
		{" KIM@Example.COM ", "u1"},
		{"\u212Aim@example.com", ""}, // KELVIN SIGN: no match
		{"kate@example.com", ""},     // the legacy look-alike is not found by its ASCII twin
		{"\u212Aate@example.com", ""},
	} {
		u, ok := st.UserByEmail(tc.email)
		if got := ""; ok {
			got = u.ID
			if got != tc.want {
				t.Errorf("UserByEmail(%q) = %s, want %q", tc.email, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("UserByEmail(%q) found nothing, want %s", tc.email, tc.want)
		}
	}
	if l, ok := st.IdentityLink("https://idp.example", "sub-1"); !ok || l.UserID != "u1" || l.Method != store.LinkCreated {
		t.Errorf("IdentityLink after restart = %+v, %v", l, ok)
	}
	if _, ok := st.IdentityLink("https://idp.example", "SUB-1"); ok {
		t.Error("a subject differing in case found the link")
	}
	if _, ok := st.IdentityLink("https://other.example", "sub-1"); ok {
		t.Error("the same subject at another issuer found the link")
	}
	if ls := st.LinksOf("u1"); len(ls) != 1 || ls[0].Subject != "sub-1" {
		t.Errorf("LinksOf(u1) = %+v", ls)
	}
}

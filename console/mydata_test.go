package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestMyDataAndWhoViewed: when a help-desk member opens an employee's
// device page, the employee sees on /my/devices who viewed the device's
// data and when; the employee's download of their data (GET /my/data)
// holds their account, keys, sessions, devices with that same list, their
// recorded access and the audit entries about them, and no secret; it is
// audited, and it is theirs only (a colleague's device and records are not
// in it).
func TestMyDataAndWhoViewed(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	e.withEnrollment(t)
	ada := e.addUser(t, "ada@example.com", pw, false)
	e.addUser(t, "bob@example.com", pw, false)
	now := e.clock.Now()
	ctx := context.Background()
	if err := e.st.Write(ctx,
		store.Put(&store.Device{ID: "dev_ada", Name: "ADA-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, Trust: store.TrustHigh, CertSerial: "1", AgentVersion: "1.0", EnrolledAt: now}),
		store.Put(&store.Device{ID: "dev_bob", Name: "BOB-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate,
			OwnerEmail: "bob@example.com", State: store.DeviceActive, CertSerial: "2", AgentVersion: "1.0", EnrolledAt: now}),
	); err != nil {
		t.Fatal(err)
	}
	dl, err := e.st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	if err := dl.AppendDecisions(ctx, []*store.DecisionRecord{
		{Hour: now.Truncate(60 * 60 * 1e9), First: now, Last: now, Count: 2, Route: "https://wiki.example.com", User: "ada@example.com", Outcome: "allow"},
		{Hour: now.Truncate(60 * 60 * 1e9), First: now, Last: now, Count: 1, Route: "https://wiki.example.com", User: "bob@example.com", Outcome: "deny"},
	}); err != nil {
		t.Fatal(err)
	}

	// Something ada did with an API token of hers.
	tok := &store.Token{ID: "tok_ada", Name: "laptop script", Role: "", OwnerID: ada.ID, OwnerEmail: ada.Email, CreatedAt: now}
	if err := e.st.Write(ctx, store.Put(tok), store.Put(store.NewAuditEvent(now, tokenActor(tok), "token.used_for_test", "x"))); err != nil {
		t.Fatal(err)
	}
	hal := e.signedInAs(t, "hal@example.com", RoleHelpdesk)
	if p := hal.get(extURL + "/devices/dev_ada"); p.StatusCode != http.StatusOK {
		t.Fatalf("helpdesk opens ada's device: %d", p.StatusCode)
	}

	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/my/devices")
	// A key registered after signing in (with one, a password alone would not sign in).
	if err := e.st.Write(ctx, store.Put(&store.Credential{ID: "cred_ada", UserID: ada.ID, Purpose: "mfa", Name: "YubiKey",
		PublicKey: []byte("secret-key-material"), CreatedAt: now})); err != nil {
		t.Fatal(err)
	}
	p := b.get(extURL + "/my/devices")
	if !strings.Contains(p.body, "Who in IT viewed this device&#39;s data (1)") || !strings.Contains(p.body, "hal@example.com — ") {
		t.Fatalf("/my/devices does not say hal viewed the laptop:\n%s", p.body)
	}
	if !strings.Contains(p.body, `href="/my/data"`) {
		t.Fatalf("/my/devices does not offer the download:\n%s", p.body)
	}

	got := b.get(extURL + "/my/data")
	if got.StatusCode != http.StatusOK || !strings.Contains(got.Header.Get("Content-Disposition"), "attachment; filename=\"portier-my-data-") {
		t.Fatalf("GET /my/data = %d %q", got.StatusCode, got.Header.Get("Content-Disposition"))
	}
	for _, secret := range []string{"password_hash", "secret_hash", "refresh_enc", "public_key", ada.PasswordHash} {
		if strings.Contains(got.body, secret) {
			t.Errorf("the download holds %q", secret)
		}
	}
	var d struct {
		Person struct {
			Email    string `json:"email"`
			Password bool   `json:"has_password"`
		} `json:"person"`
		Keys     []struct{ Name string } `json:"security_keys"`
		Sessions []struct{ IdP string }  `json:"sessions"`
		Devices  []struct {
			ID       string                `json:"id"`
			ViewedBy []struct{ By string } `json:"viewed_by"`
		} `json:"devices"`
		Decisions []store.DecisionRecord `json:"access_decisions"`
		Audit     []store.AuditEvent     `json:"audit"`
	}
	if err := json.Unmarshal([]byte(got.body), &d); err != nil {
		t.Fatalf("the download is not JSON: %v\n%s", err, got.body)
	}
	if d.Person.Email != "ada@example.com" || !d.Person.Password || len(d.Keys) != 1 || d.Keys[0].Name != "YubiKey" || len(d.Sessions) == 0 {
		t.Errorf("person, keys, sessions: %+v %+v %d", d.Person, d.Keys, len(d.Sessions))
	}
	if len(d.Devices) != 1 || d.Devices[0].ID != "dev_ada" || len(d.Devices[0].ViewedBy) != 1 || d.Devices[0].ViewedBy[0].By != "hal@example.com" {
		t.Errorf("devices: %+v", d.Devices)
	}
	if len(d.Decisions) != 1 || d.Decisions[0].User != "ada@example.com" || d.Decisions[0].Count != 2 {
		t.Errorf("recorded access: %+v", d.Decisions)
	}
	viaToken := false
	for _, ev := range d.Audit {
		viaToken = viaToken || ev.Actor == "user:ada@example.com via token tok_ada"
	}
	if !viaToken {
		t.Errorf("the download leaves out what ada did with her token: %+v", d.Audit)
	}
	exported := false
	for _, ev := range e.st.Audit() {
		exported = exported || ev.Action == "user.data_export" && ev.Actor == "user:ada@example.com" && ev.Target == ada.ID
	}
	if !exported {
		t.Error("the download is not audited")
	}
	if strings.Contains(got.body, "dev_bob") || strings.Contains(got.body, "bob@example.com") {
		t.Errorf("the download holds a colleague's data:\n%s", got.body)
	}
}

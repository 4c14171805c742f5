package console

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/portier/portier/store"
)

// TestReportMyDeviceLost: a person reports their own devices lost from
// /my/devices. Every one stops reaching work apps at once (quarantined,
// untrusted); a company laptop is locked and left to IT (no wipe of any
// kind from here); a personal phone with the agent is locked and loses its
// work profile (a selective wipe, never a full one); a phone registered in
// the browser is retired. Each report is audited with the person's note;
// reporting twice the same day queues nothing twice; a colleague's device,
// a missing CSRF token and an oversized note are refused with nothing done.
func TestReportMyDeviceLost(t *testing.T) {
	e := newEnv(t)
	e.withEnrollment(t)
	ada := e.addUser(t, "ada@example.com", pw, false)
	e.addUser(t, "bob@example.com", pw, false)
	now := e.clock.Now()
	if err := e.st.Write(context.Background(),
		store.Put(&store.Device{ID: "dev_laptop", Name: "ADA-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, Trust: store.TrustHigh, CertSerial: "123", AgentVersion: "1.0", EnrolledAt: now}),
		store.Put(&store.Device{ID: "dev_byod", Name: "Ada's Pixel", Platform: "android", Ownership: store.OwnershipBYOD, WorkProfile: true,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, Trust: store.TrustMedium, CertSerial: "124", AgentVersion: "1.0", EnrolledAt: now}),
		store.Put(&store.Device{ID: "dev_phone", Name: "Browser on iPhone", Platform: "ios", Ownership: store.OwnershipBYOD, WorkProfile: true,
			OwnerEmail: "ada@example.com", State: store.DeviceActive, Trust: store.TrustLow, EnrolledAt: now}),
		store.Put(&store.Credential{ID: "cred_phone", UserID: ada.ID, Purpose: "device", DeviceID: "dev_phone", CreatedAt: now}),
		store.Put(&store.Device{ID: "dev_bob", Name: "BOB-LAPTOP", Platform: "linux", Ownership: store.OwnershipCorporate,
			OwnerEmail: "bob@example.com", State: store.DeviceActive, CertSerial: "125", AgentVersion: "1.0", EnrolledAt: now}),
	); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/my/devices")
	p := b.get(extURL + "/my/devices")
	for _, id := range []string{"dev_laptop", "dev_byod", "dev_phone"} {
		if !strings.Contains(p.body, `href="/my/devices/`+id+`/lost"`) {
			t.Fatalf("/my/devices offers no lost report for %s:\n%s", id, p.body)
		}
	}
	tok := p.csrf(t)
	if got := b.get(extURL + "/my/devices/dev_bob/lost"); got.StatusCode != http.StatusNotFound {
		t.Errorf("a colleague's device: %d, want 404", got.StatusCode)
	}
	refused := map[string]struct {
		id   string
		form url.Values
		want int
	}{
		"colleague's device": {"dev_bob", url.Values{"csrf": {tok}}, http.StatusNotFound},
		"no CSRF token":      {"dev_laptop", url.Values{}, http.StatusForbidden},
		"note too long":      {"dev_laptop", url.Values{"csrf": {tok}, "note": {strings.Repeat("x", 501)}}, http.StatusBadRequest},
	}
	for name, tc := range refused {
		if got := b.postForm(extURL+"/my/devices/"+tc.id+"/lost", tc.form); got.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", name, got.StatusCode, tc.want)
		}
	}
	for _, id := range []string{"dev_laptop", "dev_bob"} {
		if d := mustDevice(t, e.st, id); d.State != store.DeviceActive || len(e.st.ActionsOf(id)) != 0 {
			t.Fatalf("a refused report changed %s: %s, %d actions", id, d.State, len(e.st.ActionsOf(id)))
		}
	}

	// The page says what will happen before anything does.
	if got := b.get(extURL + "/my/devices/dev_byod/lost"); !strings.Contains(got.body, "remove the work profile") || strings.Contains(got.body, "tell IT") {
		t.Errorf("the personal phone's lost page:\n%s", got.body)
	}
	if got := b.get(extURL + "/my/devices/dev_laptop/lost"); !strings.Contains(got.body, "tell IT") || strings.Contains(got.body, "work profile") {
		t.Errorf("the company laptop's lost page:\n%s", got.body)
	}
	actions := func(id string) string {
		var out []string
		for _, a := range e.st.ActionsOf(id) {
			out = append(out, a.Type+":"+a.Status)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	report := func(id, note string) page {
		t.Helper()
		got := b.postForm(extURL+"/my/devices/"+id+"/lost", url.Values{"csrf": {tok}, "note": {note}})
		if got.StatusCode != http.StatusOK || !strings.Contains(got.body, `id="lost-done"`) {
			t.Fatalf("report %s lost: %d\n%s", id, got.StatusCode, got.body)
		}
		return got
	}

	got := report("dev_laptop", "left on the train, 08:10 from Lyon")
	if !strings.Contains(got.body, "IT have been told") {
		t.Errorf("the company laptop's report does not say IT were told:\n%s", got.body)
	}
	report("dev_laptop", "") // twice the same day
	if d := mustDevice(t, e.st, "dev_laptop"); d.State != store.DeviceQuarantined || d.Trust != store.TrustUntrusted {
		t.Errorf("the lost laptop is %s, trust %s: want quarantined, untrusted", d.State, d.Trust)
	}
	if got := actions("dev_laptop"); got != "lock:queued" {
		t.Errorf("the lost laptop's actions = %q, want one lock", got)
	}
	report("dev_byod", "")
	if got := actions("dev_byod"); got != "lock:queued selective_wipe:queued" {
		t.Errorf("the lost personal phone's actions = %q, want a lock and a selective wipe", got)
	}
	if d := mustDevice(t, e.st, "dev_byod"); d.State != store.DeviceQuarantined {
		t.Errorf("the lost personal phone is %s", d.State)
	}
	report("dev_phone", "")
	if d := mustDevice(t, e.st, "dev_phone"); d.State != store.DeviceRetired {
		t.Errorf("the lost browser phone is %s, want retired", d.State)
	}
	if _, ok := e.st.Credential("cred_phone"); ok {
		t.Error("the lost browser phone's passkey was not deleted")
	}
	notes := map[string]string{}
	for _, ev := range e.st.Audit() {
		if ev.Action == "device.reported_lost" && ev.Actor == "user:ada@example.com" {
			notes[ev.Target] += ev.Detail["note"] + "|"
		}
	}
	if notes["dev_laptop"] != "left on the train, 08:10 from Lyon||" || notes["dev_byod"] != "|" || notes["dev_phone"] != "|" {
		t.Errorf("reported_lost audit entries: %q", notes)
	}
	if d := mustDevice(t, e.st, "dev_bob"); d.State != store.DeviceActive {
		t.Errorf("bob's laptop changed: %s", d.State)
	}
}

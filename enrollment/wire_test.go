package enrollment

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// TestWireStatusesAreStored: the statuses an agent reports are stored as
// they are, so the two spellings must be one.
func TestWireStatusesAreStored(t *testing.T) {
	if agentwire.StatusAcknowledged != store.ActionAcknowledged || agentwire.StatusFailed != store.ActionFailed {
		t.Errorf("agentwire statuses %q/%q, store %q/%q", agentwire.StatusAcknowledged, agentwire.StatusFailed,
			store.ActionAcknowledged, store.ActionFailed)
	}
}

// TestWireNoticeIsThePostureNotice: the notice the agent receives is the
// one the console shows, field for field (a field added to posture.Notice
// and not to agentwire.Notice fails here).
func TestWireNoticeIsThePostureNotice(t *testing.T) {
	e := newEnv(t, nil)
	d := e.mustEnroll(t, store.OwnershipBYOD, agentwire.DeviceInfo{WorkProfile: true}).Device
	p, err := e.svc.Profile(d)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.Privacy(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p.Privacy)
	want, _ := json.Marshal(n)
	if string(got) != string(want) {
		t.Errorf("agent's notice:\n%s\nposture's notice:\n%s", got, want)
	}
	loc := &posture.LocationRule{Purpose: "lost device", Days: []string{"mon"}, From: "09:00", To: "17:00", Retention: "24h"}
	got, _ = json.Marshal(wireLocation(loc))
	want, _ = json.Marshal(loc)
	if string(got) != string(want) {
		t.Errorf("agent's location rule %s, posture's %s", got, want)
	}
}

// TestWireActionKeepsTheFieldsAgentsRead: an action reaches the agent with
// the JSON it had when the server sent the stored record, less the API
// client's idempotency key (nothing an agent can use).
func TestWireActionKeepsTheFieldsAgentsRead(t *testing.T) {
	e := newEnv(t, nil)
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	a, _, err := e.svc.RequestAction(context.Background(), Actor{ID: "token:t"}, d.ID,
		ActionRequest{Type: ActionMessage, Params: map[string]string{"text": "hello"}}, "idem-1")
	if err != nil {
		t.Fatal(err)
	}
	cp := *a
	cp.DeliveredAt, cp.DoneAt, cp.Result = time.Now().UTC(), time.Now().UTC(), "shown"
	var stored, wire map[string]any
	b, _ := json.Marshal(&cp)
	_ = json.Unmarshal(b, &stored)
	b, _ = json.Marshal(WireAction(&cp))
	_ = json.Unmarshal(b, &wire)
	delete(stored, "idempotency_key")
	got, _ := json.Marshal(wire)
	want, _ := json.Marshal(stored)
	if string(got) != string(want) {
		t.Errorf("wire action:\n%s\nstored action:\n%s", got, want)
	}
}

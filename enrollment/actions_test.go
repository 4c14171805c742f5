package enrollment

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

func TestActionIdempotencyKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	d2 := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	lock := ActionRequest{Type: ActionLock}
	a1, created, err := e.svc.RequestAction(ctx, admin, d.ID, lock, "k1")
	if err != nil || !created || a1.Status != store.ActionQueued {
		t.Fatalf("first: %+v %v %v", a1, created, err)
	}
	a2, created, err := e.svc.RequestAction(ctx, admin, d.ID, lock, "k1")
	if err != nil || created || a2.ID != a1.ID {
		t.Fatalf("repeat: %+v %v %v", a2, created, err)
	}
	_, _, err = e.svc.RequestAction(ctx, admin, d.ID, ActionRequest{Type: ActionRecollect}, "k1")
	wantErr(t, err, apperr.Conflict, "already used for another action")
	// The key is scoped per device.
	a3, created, err := e.svc.RequestAction(ctx, admin, d2.ID, lock, "k1")
	if err != nil || !created || a3.ID == a1.ID {
		t.Fatalf("other device, same key: %+v %v %v", a3, created, err)
	}
	if n := len(e.st.ActionsOf(d.ID)); n != 1 {
		t.Errorf("%d actions, want 1", n)
	}
	_, _, err = e.svc.RequestAction(ctx, admin, "dev_nope", lock, "")
	wantErr(t, err, apperr.NotFound, "no device")
}

func TestActionRequestsValidated(t *testing.T) {
	for _, tc := range []struct {
		body, field string
	}{
		{`{"type":"explode"}`, "type"},
		{`{"type":"message"}`, "params.text"},
		{`{"type":"message","params":{"text":" "}}`, "params.text"},
		{`{"type":"lock","params":{"text":"x"}}`, "params.text"},
		{`{"type":"lock","params":{"reason":"` + strings.Repeat("x", 300) + `"}}`, "params.reason"},
		{`{"type":7}`, "type"},
		{`{"type":"lock","extra":1}`, "extra"},
	} {
		_, err := ParseActionRequest([]byte(tc.body))
		if ae, ok := err.(*apperr.Error); !ok || ae.Field != tc.field {
			t.Errorf("%.60s: err = %v, want field %s", tc.body, err, tc.field)
		}
	}
	if _, err := ParseActionRequest([]byte(`{"type":"message","params":{"title":"IT","text":"Please reboot\ntonight."}}`)); err != nil {
		t.Errorf("multi-line message refused: %v", err)
	}
}

func TestWipeGuards(t *testing.T) {
	ctx := context.Background()
	off := newEnv(t, nil)
	corp := off.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	_, _, err := off.svc.RequestAction(ctx, admin, corp.ID, ActionRequest{Type: ActionWipe}, "")
	wantErr(t, err, apperr.Forbidden, "wipe_enabled")

	on := newEnv(t, func(o *Options) { o.Config.WipeEnabled = true })
	byod := on.mustEnroll(t, store.OwnershipBYOD, agentwire.DeviceInfo{}).Device
	_, _, err = on.svc.RequestAction(ctx, admin, byod.ID, ActionRequest{Type: ActionWipe}, "")
	wantErr(t, err, apperr.Conflict, "selective_wipe")
	if _, _, err := on.svc.RequestAction(ctx, admin, byod.ID, ActionRequest{Type: ActionSelectiveWipe}, ""); err != nil {
		t.Errorf("selective wipe of a BYOD device: %v", err)
	}
	corp = on.mustEnroll(t, store.OwnershipCOPE, agentwire.DeviceInfo{}).Device
	if a, _, err := on.svc.RequestAction(ctx, admin, corp.ID, ActionRequest{Type: ActionWipe}, ""); err != nil || a.Status != store.ActionQueued {
		t.Errorf("wipe of a COPE device with wipes enabled: %+v %v", a, err)
	}
}

func TestRevokeAndQuarantineActAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	res := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{})
	q, _, err := e.svc.RequestAction(ctx, admin, res.Device.ID, ActionRequest{Type: ActionQuarantine, Params: map[string]string{"reason": "lost"}}, "")
	if err != nil || q.Status != store.ActionAcknowledged || q.DoneAt.IsZero() {
		t.Fatalf("quarantine: %+v %v", q, err)
	}
	d, _ := e.st.Device(res.Device.ID)
	if d.State != store.DeviceQuarantined || d.Trust != store.TrustUntrusted {
		t.Errorf("quarantined device = %s %s", d.State, d.Trust)
	}
	if _, err := e.svc.Authenticate(res.Chain); err != nil {
		t.Errorf("a quarantined device must still reach the agent API: %v", err)
	}
	if d, err = e.svc.Release(ctx, admin, d.ID); err != nil || d.State != store.DeviceActive {
		t.Fatalf("release: %+v %v", d, err)
	}
	pending, _, _ := e.svc.RequestAction(ctx, admin, d.ID, ActionRequest{Type: ActionLock}, "")
	r, _, err := e.svc.RequestAction(ctx, admin, d.ID, ActionRequest{Type: ActionRevoke}, "")
	if err != nil || r.Status != store.ActionAcknowledged {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if !e.st.IsRevoked(res.Chain[0].SerialNumber.String()) {
		t.Error("certificate not revoked")
	}
	d, _ = e.st.Device(d.ID)
	if d.State != store.DeviceRetired || d.RetiredAt.IsZero() {
		t.Errorf("revoked device = %s", d.State)
	}
	if p, _ := e.st.Action(pending.ID); p.Status != store.ActionExpired {
		t.Errorf("open action of a revoked device = %s", p.Status)
	}
	_, err = e.svc.Authenticate(res.Chain)
	wantErr(t, err, apperr.Unauthenticated, "revoked")
	_, _, err = e.svc.RequestAction(ctx, admin, d.ID, ActionRequest{Type: ActionLock}, "")
	wantErr(t, err, apperr.Conflict, "retired")
}

func TestPollDeliversAndRedelivers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	if acts, err := e.svc.Poll(ctx, d, 0); err != nil || len(acts) != 0 {
		t.Fatalf("empty poll: %v %v", acts, err)
	}
	// A long poll wakes as soon as an action is queued.
	got := make(chan []*store.Action, 1)
	go func() {
		acts, _ := e.svc.Poll(ctx, d, 20*time.Second)
		got <- acts
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	a, _, err := e.svc.RequestAction(ctx, admin, d.ID, ActionRequest{Type: ActionMessage, Params: map[string]string{"text": "hi"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case acts := <-got:
		if len(acts) != 1 || acts[0].ID != a.ID || acts[0].Status != store.ActionDelivered {
			t.Fatalf("long poll = %+v", acts)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("long poll woke after %s", time.Since(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not wake")
	}
	// Not acknowledged: delivered again.
	acts, _ := e.svc.Poll(ctx, d, 0)
	if len(acts) != 1 || acts[0].ID != a.ID {
		t.Fatalf("redelivery = %+v", acts)
	}
	done, err := e.svc.ReportResult(ctx, d, a.ID, agentwire.ActionResult{Status: store.ActionAcknowledged, Result: "shown"})
	if err != nil || done.Status != store.ActionAcknowledged {
		t.Fatalf("result: %+v %v", done, err)
	}
	if again, err := e.svc.ReportResult(ctx, d, a.ID, agentwire.ActionResult{Status: store.ActionAcknowledged}); err != nil || again.ID != a.ID {
		t.Errorf("repeated result: %v", err)
	}
	_, err = e.svc.ReportResult(ctx, d, a.ID, agentwire.ActionResult{Status: store.ActionFailed})
	wantErr(t, err, apperr.Conflict, "already acknowledged")
	if acts, _ := e.svc.Poll(ctx, d, 0); len(acts) != 0 {
		t.Errorf("acknowledged action delivered again: %+v", acts)
	}
	other := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	_, err = e.svc.ReportResult(ctx, other, a.ID, agentwire.ActionResult{Status: store.ActionAcknowledged})
	wantErr(t, err, apperr.NotFound, "no action")
}

func TestActionsExpire(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	a, _, _ := e.svc.RequestAction(ctx, admin, d.ID, ActionRequest{Type: ActionLock}, "")
	e.clock.Advance(DefaultActionTTL)
	if acts, _ := e.svc.Poll(ctx, d, 0); len(acts) != 0 {
		t.Errorf("expired action delivered: %+v", acts)
	}
	if acts, _ := e.svc.Actions(d.ID); acts[0].Status != store.ActionExpired {
		t.Errorf("listed as %s", acts[0].Status)
	}
	_, err := e.svc.ReportResult(ctx, d, a.ID, agentwire.ActionResult{Status: store.ActionAcknowledged})
	wantErr(t, err, apperr.Conflict, "expired")
	n, err := e.svc.ExpireDue(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d %v", n, err)
	}
	if s, _ := e.st.Action(a.ID); s.Status != store.ActionExpired {
		t.Errorf("stored status %s", s.Status)
	}
}

func TestSelectiveWipeAcknowledgedRetiresAndTimesTheWipe(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	res := e.mustEnroll(t, store.OwnershipBYOD, agentwire.DeviceInfo{})
	a, _, _ := e.svc.RequestAction(ctx, admin, res.Device.ID, ActionRequest{Type: ActionSelectiveWipe}, "")
	e.clock.Advance(90 * time.Second)
	if _, err := e.svc.Poll(ctx, res.Device, 0); err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.ReportResult(ctx, res.Device, a.ID, agentwire.ActionResult{Status: store.ActionAcknowledged, Result: "work profile removed"})
	if err != nil || done.Status != store.ActionAcknowledged {
		t.Fatalf("result: %+v %v", done, err)
	}
	if s, _ := e.st.Action(a.ID); s.Status != store.ActionAcknowledged {
		t.Errorf("stored wipe action = %s", s.Status)
	}
	d, _ := e.st.Device(res.Device.ID)
	if d.State != store.DeviceRetired || !e.st.IsRevoked(res.Chain[0].SerialNumber.String()) {
		t.Errorf("after selective wipe: %s, revoked %v", d.State, e.st.IsRevoked(res.Chain[0].SerialNumber.String()))
	}
	k := e.svc.KPIs()
	if k.Wipes != 1 || k.WipeMedianSeconds != 90 || k.Retired != 1 {
		t.Errorf("kpis = %+v", k)
	}
}

func TestEnqueueForCompliance(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	d := e.mustEnroll(t, store.OwnershipCorporate, agentwire.DeviceInfo{}).Device
	params := map[string]string{"text": "Turn on disk encryption"}
	for range 3 {
		if err := e.svc.Enqueue(ctx, d.ID, ActionMessage, params, ""); err != nil {
			t.Fatal(err)
		}
	}
	acts := e.st.ActionsOf(d.ID)
	if len(acts) != 1 || acts[0].RequestedBy != SystemCompliance {
		t.Fatalf("actions = %+v", acts)
	}
	if err := e.svc.Enqueue(ctx, d.ID, ActionWipe, nil, "system:posture"); err == nil {
		t.Error("a compliance wipe passed the wipe guard")
	}
}

func TestKPIQuantiles(t *testing.T) {
	for _, tc := range []struct {
		xs      []float64
		q, want float64
	}{
		{nil, 0.5, 0},
		{[]float64{7}, 0.9, 7},
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{10, 1, 5, 3, 8, 2, 9, 4, 7, 6}, 0.9, 9.1},
	} {
		if got := Quantile(tc.xs, tc.q); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
	if len(actionTypes()) != 7 {
		t.Errorf("action types = %v", actionTypes())
	}
}

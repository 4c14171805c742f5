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

// TestOwnershipComesFromTheOrganization: what an employee picks on the
// self-service page is a request; the device gets corporate or cope only
// from an administrator's code, the expected-device list (assigned to the
// same person) or an approval.
func TestOwnershipComesFromTheOrganization(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	csv := "serial,model,platform,owner_email,department,ownership\n" +
		"ADA-1,T14,linux,ada@example.com,HR,corporate\n" +
		"NOBODY-1,T14,linux,,IT,corporate\n" +
		"ADA-COPE,T14,linux,ada@example.com,HR,cope\n"
	if _, err := e.svc.ImportExpected(ctx, admin, strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	selfCode := func(email string, o store.Ownership) string {
		ic, err := e.svc.CreateCode(ctx, SelfServiceActor(email, "192.0.2.7"), CodeRequest{Ownership: o, UserEmail: email})
		if err != nil {
			t.Fatal(err)
		}
		return ic.Code
	}
	tests := []struct {
		name          string
		code          func() string
		info          agentwire.DeviceInfo
		own           store.Ownership
		src           string
		requested     store.Ownership
		key           string
		expectedTaken string // expected serial now marked enrolled
	}{
		{"admin code keeps its ownership", func() string { return e.code(t, store.OwnershipCorporate) }, agentwire.DeviceInfo{Serial: "X1"},
			store.OwnershipCorporate, store.OwnershipByAdmin, "", store.KeySoftware, ""},
		{"self-service corporate is byod, pending", func() string { return selfCode("eve@example.com", store.OwnershipCorporate) }, agentwire.DeviceInfo{Serial: "X2", KeyProtection: "hardware"},
			store.OwnershipBYOD, store.OwnershipBySelfService, store.OwnershipCorporate, store.KeyHardware, ""},
		{"self-service cope is byod, pending", func() string { return selfCode("eve@example.com", store.OwnershipCOPE) }, agentwire.DeviceInfo{},
			store.OwnershipBYOD, store.OwnershipBySelfService, store.OwnershipCOPE, store.KeySoftware, ""},
		{"self-service byod", func() string { return selfCode("eve@example.com", store.OwnershipBYOD) }, agentwire.DeviceInfo{WorkProfile: true},
			store.OwnershipBYOD, store.OwnershipBySelfService, "", store.KeySoftware, ""},
		{"self-service with another person's expected serial", func() string { return selfCode("eve@example.com", store.OwnershipCorporate) }, agentwire.DeviceInfo{Serial: "ada-1"},
			store.OwnershipBYOD, store.OwnershipBySelfService, store.OwnershipCorporate, store.KeySoftware, ""},
		{"self-service with an unassigned expected serial", func() string { return selfCode("eve@example.com", store.OwnershipCorporate) }, agentwire.DeviceInfo{Serial: "NOBODY-1"},
			store.OwnershipBYOD, store.OwnershipBySelfService, store.OwnershipCorporate, store.KeySoftware, ""},
		{"self-service with own expected serial", func() string { return selfCode("Ada@Example.com", store.OwnershipBYOD) }, agentwire.DeviceInfo{Serial: "ada-1"},
			store.OwnershipCorporate, store.OwnershipByExpected, "", store.KeySoftware, "ADA-1"},
		{"expected cope wins over the code", func() string { return selfCode("ada@example.com", store.OwnershipCorporate) }, agentwire.DeviceInfo{Serial: "ADA-COPE", KeyProtection: "TPM"},
			store.OwnershipCOPE, store.OwnershipByExpected, "", store.KeySoftware, "ADA-COPE"},
		{"admin code, unassigned expected serial", func() string { return e.code(t, store.OwnershipBYOD) }, agentwire.DeviceInfo{Serial: "NOBODY-1"},
			store.OwnershipCorporate, store.OwnershipByExpected, "", store.KeySoftware, "NOBODY-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, _, err := e.enroll(t, tc.code(), tc.info)
			if err != nil {
				t.Fatal(err)
			}
			d := res.Device
			if d.Ownership != tc.own || d.OwnershipSource != tc.src || d.RequestedOwnership != tc.requested || d.KeyProtection != tc.key {
				t.Errorf("ownership %s from %s, requested %q, key %s; want %s from %s, requested %q, key %s",
					d.Ownership, d.OwnershipSource, d.RequestedOwnership, d.KeyProtection, tc.own, tc.src, tc.requested, tc.key)
			}
			if tc.expectedTaken != "" {
				if x, _ := e.st.ExpectedDevice(tc.expectedTaken); x.EnrolledAs != d.ID {
					t.Errorf("expected device %s enrolled_as %q, want %s", tc.expectedTaken, x.EnrolledAs, d.ID)
				}
			}
		})
	}
	if x, _ := e.st.ExpectedDevice("NOBODY-1"); x.EnrolledAs == "" {
		t.Error("the unassigned expected device was not taken by the admin-code enrollment")
	}
}

// TestApproveOwnershipAndShare: the administrator's decisions are
// recorded in the device's history and the audit log, and trust follows.
func TestApproveOwnershipAndShare(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ic, err := e.svc.CreateCode(ctx, SelfServiceActor("eve@example.com", ""), CodeRequest{Ownership: store.OwnershipCorporate, UserEmail: "eve@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := e.enroll(t, ic.Code, agentwire.DeviceInfo{Serial: "EVE-1"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Device.ID
	if got := e.svc.Devices(DeviceFilter{Pending: true}); len(got) != 1 || got[0].ID != id {
		t.Fatalf("pending = %v", got)
	}
	_, err = e.svc.ApproveOwnership(ctx, admin, id, "unmanaged")
	wantErr(t, err, apperr.Invalid, "ownership must be")
	_, err = e.svc.ApproveOwnership(ctx, admin, "dev_nope", "")
	wantErr(t, err, apperr.NotFound, "no device")
	e.clock.Advance(time.Second) // so the history and the audit log have an order
	d, err := e.svc.ApproveOwnership(ctx, admin, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Ownership != store.OwnershipCorporate || d.OwnershipSource != store.OwnershipByApproval || d.PendingApproval() {
		t.Errorf("approved = %+v", d)
	}
	if len(e.svc.Devices(DeviceFilter{Pending: true})) != 0 {
		t.Error("still pending after approval")
	}
	_, err = e.svc.ApproveOwnership(ctx, admin, id, "")
	wantErr(t, err, apperr.Invalid, "no pending ownership request")
	e.clock.Advance(time.Second)
	if d, err = e.svc.SetShared(ctx, admin, id, true); err != nil || !d.Shared {
		t.Fatalf("share: %v %+v", err, d)
	}
	e.clock.Advance(time.Second)
	if d, err = e.svc.SetShared(ctx, admin, id, false); err != nil || d.Shared {
		t.Fatalf("unshare: %v %+v", err, d)
	}
	var actions []string
	for _, ev := range e.st.Audit() {
		if ev.Target == id && ev.Actor == admin.ID {
			actions = append(actions, ev.Actor+" "+ev.Action+" "+ev.Detail["from"]+">"+ev.Detail["to"])
		}
	}
	want := "token:test device.ownership.approve byod>corporate|token:test device.share >|token:test device.unshare >"
	if strings.Join(actions, "|") != want {
		t.Errorf("audit = %q, want %q", strings.Join(actions, "|"), want)
	}
	var history []string
	for _, ev := range e.st.DeviceEvents(id) {
		if ev.Type == "ownership_approved" || ev.Type == "share" || ev.Type == "unshare" {
			history = append(history, ev.Type)
		}
	}
	if h := strings.Join(history, ","); h != "ownership_approved,share,unshare" {
		t.Errorf("history = %s", h)
	}
}

package identity

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// TestFinishDeviceRegistration: the device passkey and the device record
// the caller builds are written together and the session is bound to the
// device; if the record cannot be made, neither exists; an MFA ceremony
// cannot be finished as a device one; a stale session cannot start one.
func TestFinishDeviceRegistration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com", goodPassword)
	res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	sess := res.SignIn.Session
	k := newKey(u.ID, false)
	record := func(id string) DeviceRecord {
		return func(cred *store.Credential) ([]store.Op, error) {
			if cred.DeviceID != id || cred.Purpose != PurposeDevice {
				return nil, errors.New("unexpected credential")
			}
			return []store.Op{store.Create(&store.Device{ID: id, State: store.DeviceActive, Ownership: store.OwnershipBYOD, OwnerEmail: u.Email})}, nil
		}
	}

	// The record cannot be made: nothing is stored, the session is unbound.
	c, err := f.svc.BeginDeviceRegistration(ctx, sess, "dev_a")
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(*store.Credential) ([]store.Op, error) { return nil, apperr.New(apperr.Conflict, "too many") }
	if _, err := f.svc.FinishDeviceRegistration(ctx, sess, c.Token, k.attest(t, c), testClient, refuse); apperr.Status(err) != http.StatusConflict {
		t.Fatalf("refused record: err = %v, want 409", err)
	}
	if n := len(f.st.CredentialsOf(u.ID)); n != 0 {
		t.Fatalf("%d credentials stored without their device", n)
	}
	if s, _ := f.st.Session(sess.ID); s.DeviceID != "" {
		t.Fatalf("session bound to %q without a device", s.DeviceID)
	}

	// An MFA ceremony is not a device registration.
	c, err = f.svc.BeginRegistration(ctx, sess, "key")
	if err != nil {
		t.Fatal(err)
	}
	anyCred := func(*store.Credential) ([]store.Op, error) {
		return []store.Op{store.Create(&store.Device{ID: "dev_b", State: store.DeviceActive, Ownership: store.OwnershipBYOD})}, nil
	}
	if _, err := f.svc.FinishDeviceRegistration(ctx, sess, c.Token, k.attest(t, c), testClient, anyCred); err == nil {
		t.Fatal("an MFA ceremony finished as a device registration")
	}
	if _, ok := f.st.Device("dev_b"); ok {
		t.Fatal("an MFA ceremony created a device")
	}

	c, err = f.svc.BeginDeviceRegistration(ctx, sess, "dev_c")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := f.svc.FinishDeviceRegistration(ctx, sess, c.Token, k.attest(t, c), testClient, record("dev_c"))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := f.svc.DeviceForCredential(cred.ID); !ok || d.ID != "dev_c" {
		t.Fatalf("DeviceForCredential = %v, %v", d, ok)
	}
	if s, _ := f.st.Session(sess.ID); s.DeviceID != "dev_c" || !s.DeviceCheckedAt.Equal(f.clock.Now()) {
		t.Errorf("session DeviceID = %q proven at %v, want dev_c proven now (%v)", s.DeviceID, s.DeviceCheckedAt, f.clock.Now())
	}
	if !f.audited("credential.registered") || !f.audited("session.device_bound") {
		t.Error("registration or binding not audited")
	}

	f.clock.Advance(FreshAuth + time.Minute)
	if _, err := f.svc.BeginDeviceRegistration(ctx, sess, "dev_d"); !IsNotFresh(err) {
		t.Fatalf("device registration on a stale session: %v", err)
	}
}

package identity

import (
	"context"
	"github.com/portier/portier/identity/identitytest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

var testRP = virtualwebauthn.RelyingParty{Name: "Portier", ID: "portier.localhost", Origin: testExternal}

// key is a virtual authenticator with one credential.
type key struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newKey(userID string, backupEligible bool) *key {
	return &key{
		auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{
			UserHandle: []byte(userID), BackupEligible: backupEligible}),
		cred: identitytest.NewEC2Credential(),
	}
}

func (k *key) attest(t *testing.T, c *Ceremony) []byte {
	t.Helper()
	opts, err := virtualwebauthn.ParseAttestationOptions(string(c.Options))
	if err != nil {
		t.Fatalf("attestation options: %v", err)
	}
	return []byte(virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *opts))
}

func (k *key) assert(t *testing.T, c *Ceremony) []byte {
	t.Helper()
	opts, err := virtualwebauthn.ParseAssertionOptions(string(c.Options))
	if err != nil {
		t.Fatalf("assertion options: %v", err)
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(testRP, k.auth, k.cred, *opts))
}

// register adds k as a security key of the session's user.
func (f *fixture) register(t *testing.T, sess *store.Session, k *key, name string) *store.Credential {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginRegistration(ctx, sess, name)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	cred, err := f.svc.FinishRegistration(ctx, sess, c.Token, k.attest(t, c), testClient)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return cred
}

func TestWebAuthnSecondFactorPasskeyAndStepUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com", goodPassword)
	flow := NewFlowSecret()
	res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, "", flow, testClient)
	if err != nil {
		t.Fatal(err)
	}
	sess := res.SignIn.Session
	k := newKey(u.ID, true)
	cred := f.register(t, sess, k, "YubiKey")
	if cred.Purpose != PurposeMFA || cred.UserID != u.ID || cred.Name != "YubiKey" || !f.audited("credential.registered") {
		t.Fatalf("credential = %+v", cred)
	}

	// The password is now only the first step.
	res, err = f.svc.SignInPassword(ctx, u.Email, goodPassword, attempted("https://wiki.localhost:8443/x"), flow, testClient)
	if err != nil || res.Pending == "" || res.SignIn != nil {
		t.Fatalf("password with a security key: %+v, %v; want a pending second factor", res, err)
	}
	c, err := f.svc.BeginLogin(ctx, res.Pending, "", flow, testClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.BeginLogin(ctx, res.Pending, "", NewFlowSecret(), testClient); err == nil {
		t.Error("another browser continued the pending sign-in")
	}
	answer := k.assert(t, c)
	si, err := f.svc.FinishLogin(ctx, c.Token, flow, answer, testClient)
	if err != nil {
		t.Fatalf("second factor refused: %v", err)
	}
	if !si.Session.MFAAt.Equal(f.clock.Now()) || !strings.HasPrefix(si.Redirect, testRoute+HandoffPath) {
		t.Errorf("session MFAAt = %v, redirect %q", si.Session.MFAAt, si.Redirect)
	}
	if _, err := f.svc.FinishLogin(ctx, c.Token, flow, answer, testClient); err == nil {
		t.Error("a replayed assertion signed in again")
	}

	// Passwordless, with the discoverable passkey.
	c, err = f.svc.BeginLogin(ctx, "", "/auth/security_keys", flow, testClient)
	if err != nil {
		t.Fatal(err)
	}
	si, err = f.svc.FinishLogin(ctx, c.Token, flow, k.assert(t, c), testClient)
	if err != nil {
		t.Fatalf("passkey sign-in: %v", err)
	}
	if si.Session.UserID != u.ID || si.Redirect != testExternal+"/auth/security_keys" {
		t.Errorf("passkey sign-in = %+v", si)
	}

	// Another key cannot answer for this account.
	c, _ = f.svc.BeginLogin(ctx, "", "", flow, testClient)
	if _, err := f.svc.FinishLogin(ctx, c.Token, flow, newKey(u.ID, false).assert(t, c), testClient); err == nil {
		t.Error("an unregistered key signed in")
	}

	// Step-up an hour later, with a route session handed off.
	child := f.addChild(t, sess)
	f.clock.Advance(time.Hour)
	c, err = f.svc.BeginStepUp(ctx, sess, attempted("https://wiki.localhost:8443/admin?x=1"))
	if err != nil {
		t.Fatal(err)
	}
	dest, err := f.svc.FinishStepUp(ctx, sess, c.Token, k.assert(t, c), testClient)
	if err != nil {
		t.Fatalf("step-up refused: %v", err)
	}
	if !strings.HasPrefix(dest, testRoute+HandoffPath+"?code=") {
		t.Errorf("step-up goes to %q, want a fresh hand-off to the route", dest)
	}
	for _, id := range []string{sess.ID, child.ID} {
		if s, _ := f.st.Session(id); !s.MFAAt.Equal(f.clock.Now()) {
			t.Errorf("session %s MFAAt = %v, want now", id, s.MFAAt)
		}
	}
	if !f.audited("stepup.success") {
		t.Error("step-up not audited")
	}
}

func TestWebAuthnRegistrationNeedsFreshSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com", goodPassword)
	res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(FreshAuth + time.Minute)
	_, err = f.svc.BeginRegistration(ctx, res.SignIn.Session, "late")
	if !IsNotFresh(err) || apperr.Status(err) != http.StatusForbidden {
		t.Fatalf("registration on a stale session: %v", err)
	}
}

func TestDeviceCredentialMustNotBeBackupEligible(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "ada@example.com", goodPassword)
	res, err := f.svc.SignInPassword(ctx, u.Email, goodPassword, "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	sess := res.SignIn.Session
	if err := f.st.Write(ctx, store.Put(&store.Device{ID: "dev1", State: store.DeviceActive, Ownership: store.OwnershipBYOD})); err != nil {
		t.Fatal(err)
	}

	synced := newKey(u.ID, true)
	c, err := f.svc.BeginDeviceRegistration(ctx, sess, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.FinishRegistration(ctx, sess, c.Token, synced.attest(t, c), testClient)
	if err == nil || !strings.Contains(apperr.ToBody(err).Error.Message, "synced") {
		t.Fatalf("backup-eligible device credential: %v, want refused as synced", err)
	}
	if len(f.st.CredentialsOf(u.ID)) != 0 {
		t.Fatal("the refused credential was stored")
	}

	bound := newKey(u.ID, false)
	c, err = f.svc.BeginDeviceRegistration(ctx, sess, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := f.svc.FinishRegistration(ctx, sess, c.Token, bound.attest(t, c), testClient)
	if err != nil {
		t.Fatalf("device-bound credential refused: %v", err)
	}
	if cred.Purpose != PurposeDevice || cred.DeviceID != "dev1" || cred.BackupEligible {
		t.Fatalf("credential = %+v", cred)
	}
	if d, ok := f.svc.DeviceForCredential(cred.ID); !ok || d.ID != "dev1" {
		t.Fatalf("DeviceForCredential = %v, %v", d, ok)
	}
	if _, ok := f.svc.DeviceForCredential("nope"); ok {
		t.Error("unknown credential names a device")
	}
	if s, _ := f.st.Session(sess.ID); s.DeviceID != "dev1" {
		t.Errorf("registering the device credential did not bind the session: DeviceID %q", s.DeviceID)
	}
	// A new sign-in proves the device again.
	res, err = f.svc.SignInPassword(ctx, u.Email, goodPassword, "", NewFlowSecret(), testClient)
	if err != nil {
		t.Fatal(err)
	}
	sess = res.SignIn.Session
	child := f.addChild(t, sess)
	c, err = f.svc.BeginDeviceCheck(ctx, sess, attempted("https://wiki.localhost:8443/"))
	if err != nil {
		t.Fatal(err)
	}
	d, dest, err := f.svc.FinishDeviceCheck(ctx, sess, c.Token, bound.assert(t, c), testClient)
	if err != nil || d.ID != "dev1" || !strings.HasPrefix(dest, testRoute+HandoffPath) {
		t.Fatalf("device check = %v, %q, %v", d, dest, err)
	}
	for _, id := range []string{sess.ID, child.ID} {
		if s, _ := f.st.Session(id); s.DeviceID != "dev1" {
			t.Errorf("session %s DeviceID = %q after the device check", id, s.DeviceID)
		}
	}
	// A device credential is not a security key: it cannot sign in.
	flow := NewFlowSecret()
	c, _ = f.svc.BeginLogin(ctx, "", "", flow, testClient)
	if _, err := f.svc.FinishLogin(ctx, c.Token, flow, bound.assert(t, c), testClient); err == nil {
		t.Error("a device credential signed in")
	}
}

package identity

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// maxKeyName bounds a security key's name.
const maxKeyName = 60

// staleError marks an action refused because the session is not Fresh.
type staleError struct{}

// Error names the condition for logs.
func (staleError) Error() string { return "session not fresh" }

func errNotFresh() error {
	return apperr.Wrap(apperr.Forbidden, staleError{}, "For your safety, confirm it is you first: use one of your security keys, or sign out and sign in again.")
}

// IsNotFresh reports whether err asks for a fresh sign-in or security-key
// check first (see Fresh).
func IsNotFresh(err error) bool {
	var se staleError
	return errors.As(err, &se)
}

// BeginRegistration starts registering a security key or passkey (purpose
// "mfa") named name for the user of a console session. The session must be
// Fresh. The user's existing credentials are excluded, so one authenticator
// is registered once.
func (s *Service) BeginRegistration(ctx context.Context, sess *store.Session, name string) (*Ceremony, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	if !s.Fresh(sess) {
		return nil, errNotFresh()
	}
	return s.beginRegister(ctx, s.wa, sess, PurposeMFA, cleanName(name, "Security key"), "")
}

// BeginDeviceRegistration starts registering the device-bound credential
// (purpose "device") that identifies deviceID for BYOD work-profile access:
// a platform authenticator with user verification that must not be
// backup-eligible, so a passkey synced to other devices is refused. The
// session must be Fresh.
func (s *Service) BeginDeviceRegistration(ctx context.Context, sess *store.Session, deviceID string) (*Ceremony, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	if deviceID == "" {
		return nil, apperr.Field("device_id", "a device id is required")
	}
	// A device passkey opens routes for personal devices: a stolen session
	// cookie alone must not be enough to add one.
	if !s.Fresh(sess) {
		return nil, errNotFresh()
	}
	return s.beginRegister(ctx, s.waDevice, sess, PurposeDevice, "This device", deviceID)
}

func (s *Service) beginRegister(ctx context.Context, wa *webauthn.WebAuthn, sess *store.Session, purpose, name, deviceID string) (*Ceremony, error) {
	u, ok := s.st.User(sess.UserID)
	if !ok || !userActive(u) {
		return nil, errDisabled()
	}
	all := s.credentials(u.ID, "")
	if len(all) >= maxCredentialsPerUser {
		return nil, apperr.New(apperr.Conflict, "You have %d credentials registered, the most allowed. Remove one first.", len(all))
	}
	cc, sd, err := wa.BeginRegistration(waUser{u, nil}, webauthn.WithExclusions(credentialIDs(all)))
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "Portier could not start the registration.")
	}
	return s.ceremony(ctx, &store.AuthFlow{Type: flowRegister, UserID: u.ID},
		flowData{SessionID: sess.ID, WebAuthn: sd, Purpose: purpose, Name: name, DeviceID: deviceID}, cc)
}

// FinishRegistration checks the browser's answer to a BeginRegistration or
// BeginDeviceRegistration ceremony of the same console session, stores the
// credential and audits it. A device credential that is backup-eligible is
// refused.
func (s *Service) FinishRegistration(ctx context.Context, sess *store.Session, token string, credential []byte, c ClientInfo) (*store.Credential, error) {
	return s.finishRegistration(ctx, sess, token, credential, c, "", nil)
}

// DeviceRecord returns the writes that create the device a new
// device-bound credential identifies (see FinishDeviceRegistration).
type DeviceRecord func(cred *store.Credential) ([]store.Op, error)

// FinishDeviceRegistration finishes a BeginDeviceRegistration ceremony
// like FinishRegistration, and writes the device record that record
// returns in the same transaction as the credential, so a device passkey
// never exists without its device nor a device without its passkey. Only
// a device ceremony is accepted.
func (s *Service) FinishDeviceRegistration(ctx context.Context, sess *store.Session, token string, credential []byte, c ClientInfo, record DeviceRecord) (*store.Credential, error) {
	if record == nil {
		return nil, apperr.New(apperr.Internal, "Portier could not register the device.")
	}
	return s.finishRegistration(ctx, sess, token, credential, c, PurposeDevice, record)
}

func (s *Service) finishRegistration(ctx context.Context, sess *store.Session, token string, credential []byte, c ClientInfo, want string, record DeviceRecord) (*store.Credential, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	f, d, err := s.takeFlow(ctx, token, flowRegister)
	if err != nil {
		return nil, err
	}
	if d.SessionID != sess.ID || f.UserID != sess.UserID || d.WebAuthn == nil || (want != "" && d.Purpose != want) {
		return nil, errFlowForeign()
	}
	u, ok := s.st.User(sess.UserID)
	if !ok || !userActive(u) {
		return nil, errDisabled()
	}
	wa := s.wa
	if d.Purpose == PurposeDevice {
		wa = s.waDevice
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	var wc *webauthn.Credential
	if err == nil {
		wc, err = wa.CreateCredential(waUser{u, nil}, *d.WebAuthn, parsed)
	}
	if err == nil && d.Purpose == PurposeDevice && wc.Flags.BackupEligible {
		err = apperr.New(apperr.Invalid, "backup-eligible")
	}
	if err != nil {
		s.log.Info("identity: registration refused", "purpose", d.Purpose, "err", err, "detail", protocolDetail(err))
		s.writeAudit(ctx, "user:"+u.Email, "credential.refused", u.ID, c.IP, map[string]string{"purpose": d.Purpose})
		if d.Purpose == PurposeDevice && parsed != nil && parsed.Response.AttestationObject.AuthData.Flags.HasBackupEligible() {
			return nil, apperr.Wrap(apperr.Invalid, err, "This passkey can be synced to other devices, so it cannot identify this device. Use this device's built-in authenticator without syncing (for example a work profile's screen lock).")
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "Your security key's answer was not accepted. Try again, or use another key.")
	}
	cred := fromWebAuthn(wc, u.ID, d.Purpose, d.Name, d.DeviceID, s.now())
	detail := map[string]string{"purpose": cred.Purpose, "name": cred.Name, "credential": cred.ID}
	if cred.DeviceID != "" {
		detail["device"] = cred.DeviceID
	}
	ops := []store.Op{store.Create(cred), s.audit("user:"+u.Email, "credential.registered", u.ID, c.IP, detail)}
	if record != nil {
		more, err := record(cred)
		if err != nil {
			return nil, err
		}
		ops = append(ops, more...)
	}
	err = s.st.Write(ctx, ops...)
	if err != nil {
		return nil, apperr.Wrap(apperr.Conflict, err, "This security key could not be saved (it may be registered already).")
	}
	if cred.Purpose == PurposeDevice {
		// The browser just proved it holds the device's credential.
		if err := s.bindDevice(ctx, sess, cred.DeviceID, c); err != nil {
			return nil, err
		}
	}
	return cred, nil
}

// DeleteCredential removes one of the user's security keys; the session
// must be Fresh.
func (s *Service) DeleteCredential(ctx context.Context, sess *store.Session, id string, c ClientInfo) error {
	if !s.Fresh(sess) {
		return errNotFresh()
	}
	cred, ok := s.st.Credential(id)
	if !ok || cred.UserID != sess.UserID || cred.Purpose != PurposeMFA {
		return apperr.New(apperr.NotFound, "There is no such security key on your account.")
	}
	err := s.st.Write(ctx, store.Delete(store.KindCredential, id),
		s.audit("user:"+sess.Email, "credential.deleted", sess.UserID, c.IP, map[string]string{"name": cred.Name, "credential": id}))
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not remove the key. Try again in a minute.")
	}
	return nil
}

// DeviceForCredential returns the device a device-bound credential (by its
// base64url id) identifies, if the credential is one and the device is
// still managed.
func (s *Service) DeviceForCredential(credentialID string) (*store.Device, bool) {
	c, ok := s.st.Credential(credentialID)
	if !ok || c.Purpose != PurposeDevice || c.DeviceID == "" {
		return nil, false
	}
	d, ok := s.st.Device(c.DeviceID)
	if !ok || d.State == store.DeviceRetired || d.State == store.DeviceWiped {
		return nil, false
	}
	return d, true
}

// BeginDeviceCheck starts an assertion by one of the session user's
// device-bound credentials, to learn which enrolled device the browser is
// on; the browser goes to rd afterwards.
func (s *Service) BeginDeviceCheck(ctx context.Context, sess *store.Session, rd string) (*Ceremony, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn()
	}
	u, ok := s.st.User(sess.UserID)
	creds := s.credentials(sess.UserID, PurposeDevice)
	if !ok || len(creds) == 0 {
		return nil, apperr.New(apperr.NotFound, "No device of yours is enrolled for browser access. Enroll this device first.")
	}
	a, sd, err := s.waDevice.BeginLogin(waUser{u, creds})
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "Portier could not start the device check.")
	}
	target, _ := s.CheckRedirect(rd)
	return s.ceremony(ctx, &store.AuthFlow{Type: flowDeviceAuth, UserID: u.ID, Redirect: target.String()},
		flowData{SessionID: sess.ID, WebAuthn: sd}, a)
}

// FinishDeviceCheck verifies a BeginDeviceCheck assertion, binds the
// console session and its route sessions to the device it proves
// (Session.DeviceID, which the proxy reads), and returns the device and
// where the browser goes next.
func (s *Service) FinishDeviceCheck(ctx context.Context, sess *store.Session, token string, credential []byte, c ClientInfo) (*store.Device, string, error) {
	f, d, err := s.takeFlow(ctx, token, flowDeviceAuth)
	if err != nil {
		return nil, "", err
	}
	u, ok := s.st.User(sess.UserID)
	if d.SessionID != sess.ID || d.WebAuthn == nil || !ok {
		return nil, "", errFlowForeign()
	}
	upd, err := s.assertWith(s.waDevice, u, PurposeDevice, d.WebAuthn, credential)
	if err != nil {
		s.log.Info("identity: device check refused", "err", err, "detail", protocolDetail(err))
		return nil, "", errKeyRefused(err)
	}
	dev, ok := s.DeviceForCredential(upd.ID)
	if !ok {
		return nil, "", apperr.New(apperr.NotFound, "This device is no longer enrolled.")
	}
	if err := s.bindDevice(ctx, sess, dev.ID, c, store.Put(upd)); err != nil {
		return nil, "", err
	}
	dest, err := s.Continue(ctx, sess, f.Redirect)
	return dev, dest, err
}

// bindDevice records on a session family that its browser is on deviceID,
// proven now (the proxy re-asks after enrollment's browser_device_recheck).
func (s *Service) bindDevice(ctx context.Context, sess *store.Session, deviceID string, c ClientInfo, extra ...store.Op) error {
	now := s.now()
	extra = append(extra, s.audit("user:"+sess.Email, "session.device_bound", sess.UserID, c.IP, map[string]string{"device": deviceID}))
	if err := s.updateFamily(ctx, sess.ID, func(x *store.Session) { x.DeviceID, x.DeviceCheckedAt = deviceID, now }, extra...); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not save the device check. Try again in a minute.")
	}
	return nil
}

// cleanName keeps a printable, bounded credential name.
func cleanName(name, fallback string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	if r := []rune(name); len(r) > maxKeyName {
		name = string(r[:maxKeyName])
	}
	if name == "" {
		return fallback
	}
	return name
}

// HasDeviceCredential reports whether a user has a device-bound credential.
func (s *Service) HasDeviceCredential(userID string) bool {
	return len(s.credentials(userID, PurposeDevice)) > 0
}

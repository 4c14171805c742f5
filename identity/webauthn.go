package identity

import (
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portier/portier/store"
)

// Credential purposes (store.Credential.Purpose).
const (
	// PurposeMFA is a security key or passkey: second factor, passwordless
	// sign-in of local accounts, step-up.
	PurposeMFA = "mfa"
	// PurposeDevice is a device-bound credential registered at BYOD
	// work-profile enrollment: it identifies the device, so it must not be
	// backup-eligible (a synced passkey lives on many devices).
	PurposeDevice = "device"
)

// maxCredentialsPerUser bounds a user's WebAuthn credentials.
const maxCredentialsPerUser = 20

// newWebAuthn returns the relying parties for security keys and for
// device-bound credentials, both on the console's host.
func newWebAuthn(ext *url.URL) (*webauthn.WebAuthn, *webauthn.WebAuthn, error) {
	base := func() *webauthn.Config {
		return &webauthn.Config{
			RPID:                  ext.Hostname(),
			RPDisplayName:         "Portier",
			RPOrigins:             []string{ext.Scheme + "://" + ext.Host},
			AttestationPreference: protocol.PreferNoAttestation,
			Timeouts: webauthn.TimeoutsConfig{
				Login:        webauthn.TimeoutConfig{Timeout: 2 * time.Minute, TimeoutUVD: 2 * time.Minute},
				Registration: webauthn.TimeoutConfig{Timeout: 5 * time.Minute, TimeoutUVD: 5 * time.Minute},
			},
		}
	}
	mfa := base()
	mfa.AuthenticatorSelection = protocol.AuthenticatorSelection{
		ResidentKey:      protocol.ResidentKeyRequirementPreferred,
		UserVerification: protocol.VerificationPreferred,
	}
	wa, err := webauthn.New(mfa)
	if err != nil {
		return nil, nil, err
	}
	dev := base()
	dev.AuthenticatorSelection = protocol.AuthenticatorSelection{
		AuthenticatorAttachment: protocol.Platform,
		ResidentKey:             protocol.ResidentKeyRequirementDiscouraged,
		UserVerification:        protocol.VerificationRequired,
	}
	dev.Filtering = &webauthn.FilteringConfig{ProhibitBackupEligibility: true}
	wd, err := webauthn.New(dev)
	if err != nil {
		return nil, nil, err
	}
	return wa, wd, nil
}

// waUser adapts a store user and some of its credentials to go-webauthn.
type waUser struct {
	u     *store.User
	creds []*store.Credential
}

var _ webauthn.User = waUser{}

// WebAuthnID is the user handle: the user's id (no personal data).
func (w waUser) WebAuthnID() []byte { return []byte(w.u.ID) }

// WebAuthnName is the account name authenticators show: the email.
func (w waUser) WebAuthnName() string { return w.u.Email }

// WebAuthnDisplayName is the person's name, else the email.
func (w waUser) WebAuthnDisplayName() string {
	if w.u.Name != "" {
		return w.u.Name
	}
	return w.u.Email
}

// WebAuthnCredentials are the credentials an assertion may use.
func (w waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(w.creds))
	for _, c := range w.creds {
		out = append(out, toWebAuthn(c))
	}
	return out
}

// credentials returns a user's credentials of one purpose ("" = all).
func (s *Service) credentials(userID, purpose string) []*store.Credential {
	var out []*store.Credential
	for _, c := range s.st.CredentialsOf(userID) {
		if purpose == "" || c.Purpose == purpose {
			out = append(out, c)
		}
	}
	return out
}

// Credentials returns a user's security keys and passkeys (purpose "mfa").
func (s *Service) Credentials(userID string) []*store.Credential {
	cs := s.credentials(userID, PurposeMFA)
	slices.SortFunc(cs, func(a, b *store.Credential) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return cs
}

// WebAuthnAvailable reports whether security keys work on this Portier (the
// console must be reached by a host name).
func (s *Service) WebAuthnAvailable() bool { return s.wa != nil }

func toWebAuthn(c *store.Credential) webauthn.Credential {
	id, _ := base64.RawURLEncoding.DecodeString(c.ID)
	flags := protocol.FlagUserPresent
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackedUp {
		flags |= protocol.FlagBackupState
	}
	ts := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		ts = append(ts, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: id, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFmt, Transport: ts,
		Flags:         webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

func fromWebAuthn(wc *webauthn.Credential, userID, purpose, name, deviceID string, now time.Time) *store.Credential {
	ts := make([]string, 0, len(wc.Transport))
	for _, t := range wc.Transport {
		ts = append(ts, string(t))
	}
	return &store.Credential{
		ID: base64.RawURLEncoding.EncodeToString(wc.ID), UserID: userID, Purpose: purpose, DeviceID: deviceID,
		Name: name, PublicKey: wc.PublicKey, AttestationFmt: wc.AttestationFormat, AAGUID: wc.Authenticator.AAGUID,
		SignCount: wc.Authenticator.SignCount, BackupEligible: wc.Flags.BackupEligible, BackedUp: wc.Flags.BackupState,
		Transports: ts, CreatedAt: now,
	}
}

// used returns the stored credential updated after an assertion (counter,
// backup state, last use), or an error when the counter went backwards (a
// cloned authenticator).
func used(stored *store.Credential, wc *webauthn.Credential, now time.Time) (*store.Credential, error) {
	if wc.Authenticator.CloneWarning {
		return nil, errors.New("signature counter went backwards: possible cloned authenticator")
	}
	cp := *stored
	cp.SignCount = wc.Authenticator.SignCount
	cp.BackedUp = wc.Flags.BackupState
	cp.LastUsed = now
	return &cp, nil
}

// protocolDetail is the developer detail of a go-webauthn error, for logs.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details + " " + pe.DevInfo
	}
	return ""
}

package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// AuthFlow types.
const (
	flowOIDC       = "oidc"              // OIDC authorization code flow in progress
	flowLink       = "oidc_link"         // OIDC code flow linking a provider account to a signed-in user
	flowPassword   = "password_ok"       // password right, second factor pending
	flowLogin      = "webauthn_login"    // WebAuthn assertion for sign-in
	flowRegister   = "webauthn_register" // WebAuthn registration
	flowStepUp     = "step_up"           // WebAuthn assertion for step-up
	flowDeviceAuth = "webauthn_device"   // WebAuthn assertion by a device-bound credential
)

// claimPrefix names the Claim that makes a flow single-use.
const claimPrefix = "authflow/"

// flowData is the part of an AuthFlow this package keeps in AuthFlow.Data.
type flowData struct {
	// Binding is HashSecret of the browser's FlowCookie for flows started
	// before sign-in: the flow can only be finished by the browser that
	// started it (no login CSRF, no pasted links).
	Binding string `json:"binding,omitempty"`
	// SessionID is the console session a signed-in ceremony belongs to.
	SessionID string `json:"session_id,omitempty"`
	// Pending is the password flow a second-factor ceremony completes.
	Pending  string                `json:"pending,omitempty"`
	WebAuthn *webauthn.SessionData `json:"webauthn,omitempty"`
	Purpose  string                `json:"purpose,omitempty"`
	Name     string                `json:"name,omitempty"`
	DeviceID string                `json:"device_id,omitempty"`
}

func errFlowGone() error {
	return apperr.New(apperr.Invalid, "This sign-in attempt has expired or was already used. Please start again.")
}

func errFlowForeign() error {
	return apperr.New(apperr.Forbidden, "This sign-in attempt was started in another browser or has expired. Please start again here.")
}

// newFlow stores a ceremony and returns the secret token the browser carries.
func (s *Service) newFlow(ctx context.Context, f *store.AuthFlow, d flowData) (string, error) {
	token, id := NewSessionSecret()
	f.ID = id
	f.ExpiresAt = s.now().Add(FlowLifetime)
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	f.Data = b
	if err := s.st.Write(ctx, store.Create(f)); err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "Portier could not save your sign-in. Try again in a minute.")
	}
	return token, nil
}

// peekFlow returns a live flow of one of the types typ without using it up.
func (s *Service) peekFlow(token string, typ ...string) (*store.AuthFlow, *flowData, error) {
	if token == "" || len(token) > 128 {
		return nil, nil, errFlowGone()
	}
	id := HashSecret(token)
	f, ok := store.Find(s.st, func() (*store.AuthFlow, bool) { return s.st.AuthFlow(id) }) // started on another replica?
	if !ok || !slices.Contains(typ, f.Type) || !s.now().Before(f.ExpiresAt) || s.st.Claimed(claimPrefix+f.ID) {
		return nil, nil, errFlowGone()
	}
	var d flowData
	if len(f.Data) > 0 {
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return nil, nil, apperr.Wrap(apperr.Invalid, err, "This sign-in attempt cannot be read. Please start again.")
		}
	}
	return f, &d, nil
}

// takeFlow uses a flow up: of several requests racing with the same token
// (on any number of Portier processes) exactly one gets it.
func (s *Service) takeFlow(ctx context.Context, token string, typ ...string) (*store.AuthFlow, *flowData, error) {
	f, d, err := s.peekFlow(token, typ...)
	if err != nil {
		return nil, nil, err
	}
	if err := s.claimFlow(ctx, f.ID); err != nil {
		return nil, nil, err
	}
	return f, d, nil
}

func (s *Service) claimFlow(ctx context.Context, id string) error {
	err := s.st.Write(ctx,
		store.Create(&store.Claim{ID: claimPrefix + id, At: s.now()}),
		store.Delete(store.KindAuthFlow, id))
	switch {
	case errors.Is(err, store.ErrExists):
		return errFlowGone()
	case err != nil:
		return apperr.Wrap(apperr.Unavailable, err, "Portier could not save your sign-in. Try again in a minute.")
	}
	return nil
}

// bound reports whether the browser holding flow cookie value binding is the
// one that started a flow.
func (d *flowData) bound(binding string) bool {
	return binding != "" && d.Binding != "" &&
		subtle.ConstantTimeCompare([]byte(HashSecret(binding)), []byte(d.Binding)) == 1
}

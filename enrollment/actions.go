package enrollment

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// Action types: the agent protocol's (package agentwire).
const (
	ActionLock          = agentwire.ActionLock
	ActionSelectiveWipe = agentwire.ActionSelectiveWipe
	ActionWipe          = agentwire.ActionWipe
	ActionRevoke        = agentwire.ActionRevoke
	ActionQuarantine    = agentwire.ActionQuarantine
	ActionMessage       = agentwire.ActionMessage
	ActionRecollect     = agentwire.ActionRecollect
)

// actionParams lists each action type's allowed parameters and their
// maximum length; "text" of a message is required.
var actionParams = map[string]map[string]int{
	ActionLock:          {"reason": 200},
	ActionSelectiveWipe: {"reason": 200},
	ActionWipe:          {"reason": 200},
	ActionRevoke:        {"reason": 200},
	ActionQuarantine:    {"reason": 200},
	ActionMessage:       {"title": 100, "text": 1000},
	ActionRecollect:     {},
}

// SystemCompliance is the requester of actions queued by the compliance
// escalation ladder.
const SystemCompliance = "system:compliance"

// maxIdempotencyKey bounds an Idempotency-Key.
const maxIdempotencyKey = 128

// ActionRequest is the body of POST /api/v1/devices/{id}/actions.
type ActionRequest struct {
	Type   string            `json:"type"`
	Params map[string]string `json:"params,omitempty"`
}

// ParseActionRequest reads and checks an action request body.
func ParseActionRequest(body []byte) (ActionRequest, error) {
	var r ActionRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	return r, r.check()
}

// Check checks a request built by the caller (a form) as
// ParseActionRequest checks a body: a known type and its parameters.
func (r *ActionRequest) Check() error { return r.check() }

func (r *ActionRequest) check() error {
	allowed, ok := actionParams[r.Type]
	if !ok {
		return apperr.Field("type", "type must be one of lock, selective_wipe, wipe, revoke, quarantine, message, recollect")
	}
	for k, v := range r.Params {
		max, ok := allowed[k]
		if !ok {
			return apperr.Field("params."+k, "a %s action takes no parameter %q", r.Type, k)
		}
		if !cleanText(v, max) && !(k == "text" && len(v) <= max && utf8Text(v)) {
			return apperr.Field("params."+k, "params.%s must be text of at most %d bytes", k, max)
		}
	}
	if r.Type == ActionMessage && strings.TrimSpace(r.Params["text"]) == "" {
		return apperr.Field("params.text", "a message action needs params.text: what to show the user")
	}
	return nil
}

// utf8Text accepts multi-line text: valid UTF-8 whose only control
// characters are newlines and tabs.
func utf8Text(s string) bool {
	return cleanText(strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s), len(s))
}

// open reports whether an action status can still change.
func open(status string) bool { return status == store.ActionQueued || status == store.ActionDelivered }

// idemClaim is the claim that makes an idempotency key single-use per
// device, even when two requests with it race on two replicas.
func idemClaim(deviceID, key string) string {
	return "action-idem/" + deviceID + "/" + identity.HashSecret(key)
}

// Actionable returns the device if it may take an action of type typ: it
// exists and is not retired or wiped, and a full wipe is neither for a
// BYOD device nor on a server where wipes are off.
func (s *Service) Actionable(deviceID, typ string) (*store.Device, error) {
	d, err := s.device(deviceID)
	if err != nil {
		return nil, err
	}
	if retired(d) {
		return nil, apperr.New(apperr.Conflict, "device %s was %s; it takes no more actions", deviceID, d.State)
	}
	if typ == ActionWipe {
		if d.Ownership == store.OwnershipBYOD || d.WorkProfile {
			return nil, apperr.New(apperr.Conflict, "device %s is a personal (BYOD) device: Portier manages only its work profile, so a full wipe is refused; use selective_wipe to remove the work profile", deviceID)
		}
		if !s.cfg.WipeEnabled {
			return nil, apperr.New(apperr.Forbidden, "full-device wipe is disabled on this server; an operator can enable it with enrollment.wipe_enabled: true in the config")
		}
	}
	return d, nil
}

// RequestAction queues a remote action for a device, or runs it at once
// for revoke and quarantine (which act on the server and are acknowledged
// immediately). With an idempotency key, a repeated request returns the
// action of the first one (created false). A full wipe is refused for
// personal (BYOD) devices and unless the operator enabled wipes.
func (s *Service) RequestAction(ctx context.Context, a Actor, deviceID string, req ActionRequest, idemKey string) (*store.Action, bool, error) {
	if err := req.check(); err != nil {
		return nil, false, err
	}
	if len(idemKey) > maxIdempotencyKey || !cleanText(idemKey, maxIdempotencyKey) {
		return nil, false, apperr.Field("Idempotency-Key", "the Idempotency-Key header must be at most %d characters of text", maxIdempotencyKey)
	}
	if idemKey != "" {
		if prev, ok := s.st.ActionByIdempotencyKey(deviceID + "/" + idemKey); ok {
			return sameRequest(prev, req)
		}
	}
	d, err := s.Actionable(deviceID, req.Type)
	if err != nil {
		return nil, false, err
	}
	now := s.clock()
	act := &store.Action{ID: newActionID(), DeviceID: deviceID, Type: req.Type, Params: req.Params,
		Status: store.ActionQueued, RequestedBy: a.ID, RequestedAt: now.UTC(), ExpiresAt: now.Add(s.cfg.ActionTTL).UTC()}
	var pre []store.Op
	if idemKey != "" {
		act.IdempotencyKey = deviceID + "/" + idemKey
		pre = append(pre, store.Create(&store.Claim{ID: idemClaim(deviceID, idemKey), At: now.UTC(), By: a.ID}))
	}
	detail := map[string]string{"action": act.ID, "type": act.Type}
	if r := req.Params["reason"]; r != "" {
		detail["reason"] = r
	}
	audit := s.auditOp(a, now, "device.action."+act.Type, deviceID, detail)
	switch req.Type {
	case ActionRevoke:
		err = s.revokeNow(ctx, a, d, act, now, append(pre, audit))
	case ActionQuarantine:
		act.Status, act.DoneAt, act.Result = store.ActionAcknowledged, now.UTC(), "quarantined by the server"
		_, err = s.setState(ctx, a, deviceID, store.DeviceQuarantined, req.Params["reason"], append(pre, store.Put(act))...)
	default:
		err = s.st.Write(ctx, append(pre, store.Put(act), audit,
			store.Put(store.NewDeviceEvent(now, deviceID, "action_requested", detail)))...)
	}
	if errors.Is(err, store.ErrExists) && idemKey != "" {
		// Another request with this key won the race, maybe on another
		// replica an instant ago (a client retrying after a lost answer):
		// catch up if need be and answer with its action.
		if prev, ok := store.Find(s.st, func() (*store.Action, bool) {
			return s.st.ActionByIdempotencyKey(deviceID + "/" + idemKey)
		}); ok {
			return sameRequest(prev, req)
		}
	}
	if err != nil {
		return nil, false, err
	}
	return act, true, nil
}

// revokeNow revokes every certificate of the device and retires it.
func (s *Service) revokeNow(ctx context.Context, a Actor, d *store.Device, act *store.Action, now time.Time, pre []store.Op) error {
	why := "revoked by " + a.ID
	if r := act.Params["reason"]; r != "" {
		why = r
	}
	act.Status, act.DoneAt, act.Result = store.ActionAcknowledged, now.UTC(), "certificates revoked; device retired"
	return s.writeRevoking(ctx, d.ID, ca.ReasonPrivilegeWithdrawn, why, func(revs []store.Op) []store.Op {
		ops := append(append(revs, pre...), store.Put(act))
		return append(ops, s.retireOps(d, store.DeviceRetired, now, why, act.ID)...)
	})
}

// sameRequest answers a repeated idempotency key: the first action if the
// request is the same, a conflict if the key was used for another one.
func sameRequest(prev *store.Action, req ActionRequest) (*store.Action, bool, error) {
	if prev.Type != req.Type || !maps.Equal(prev.Params, req.Params) {
		return nil, false, apperr.New(apperr.Conflict, "this Idempotency-Key was already used for another action (%s %s)", prev.Type, prev.ID)
	}
	return prev, false, nil
}

// Enqueue queues an action requested by a server component (the
// compliance ladder): it implements posture.ActionQueue. An identical
// action from the same requester still open is not queued twice.
func (s *Service) Enqueue(ctx context.Context, deviceID, actionType string, params map[string]string, requestedBy string) error {
	if requestedBy == "" {
		requestedBy = SystemCompliance
	}
	for _, a := range s.st.ActionsOf(deviceID) {
		if open(a.Status) && a.Type == actionType && a.RequestedBy == requestedBy && maps.Equal(a.Params, params) {
			return nil
		}
	}
	_, _, err := s.RequestAction(ctx, Actor{ID: requestedBy}, deviceID, ActionRequest{Type: actionType, Params: params}, "")
	return err
}

// Actions lists a device's actions, newest first, with expired ones shown
// as expired even before the sweeper records it.
func (s *Service) Actions(deviceID string) ([]*store.Action, error) {
	if _, err := s.device(deviceID); err != nil {
		return nil, err
	}
	now := s.clock()
	acts := s.st.ActionsOf(deviceID)
	out := make([]*store.Action, 0, len(acts))
	for _, a := range acts {
		out = append(out, effective(a, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RequestedAt.After(out[j].RequestedAt) })
	return out, nil
}

// effective returns a with the status it has at now (a copy when it
// expired meanwhile).
func effective(a *store.Action, now time.Time) *store.Action {
	if open(a.Status) && !now.Before(a.ExpiresAt) {
		cp := *a
		cp.Status, cp.DoneAt, cp.Result = store.ActionExpired, a.ExpiresAt, "not acknowledged in time"
		return &cp
	}
	return a
}

// actionTypes lists the action types, for documentation and tests.
func actionTypes() []string { return slices.Sorted(maps.Keys(actionParams)) }

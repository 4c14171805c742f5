package enrollment

import (
	"errors"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// The agent API speaks package agentwire; these turn the server's records
// into its types. Action statuses are stored as the agent reports them
// (TestWireStatusesAreStored ties the two).

// WireAction is an action as the agent receives it.
func WireAction(a *store.Action) *agentwire.Action {
	return &agentwire.Action{ID: a.ID, DeviceID: a.DeviceID, Type: a.Type, Params: a.Params, Status: a.Status,
		RequestedBy: a.RequestedBy, RequestedAt: a.RequestedAt, DeliveredAt: a.DeliveredAt, DoneAt: a.DoneAt,
		ExpiresAt: a.ExpiresAt, Result: a.Result}
}

// wireLocation is a location rule as the agent receives it.
func wireLocation(l *posture.LocationRule) *agentwire.LocationRule {
	if l == nil {
		return nil
	}
	return &agentwire.LocationRule{Purpose: l.Purpose, Days: l.Days, From: l.From, To: l.To, Retention: l.Retention}
}

// fieldErr turns an agentwire validation error into a client error.
func fieldErr(err error) error {
	var fe *agentwire.FieldError
	if errors.As(err, &fe) {
		return apperr.Field(fe.Field, "%s", fe.Msg)
	}
	return apperr.Wrap(apperr.Invalid, err, "invalid body")
}

package store

import (
	"slices"
	"time"
)

// WouldCompliance is what a device's compliance would be if the
// report-only compliance policies were enforced: computed at each
// evaluation next to the real verdict, never acted on (no trust change,
// no action, no notification). Its streak and step move forward like the
// real ones so that the would-be ladder is the one enforcing would give.
type WouldCompliance struct {
	// Policies are the report-only compliance policies that apply to the device.
	Policies       []string  `json:"policies"`
	Compliant      bool      `json:"compliant"`
	FailingChecks  []string  `json:"failing_checks,omitempty"`
	FailingSince   time.Time `json:"failing_since,omitzero"`
	EscalationStep string    `json:"escalation_step,omitempty"`
	Trust          Trust     `json:"trust"`
	TrustReason    string    `json:"trust_reason,omitempty"`
	// State is the device state enforcing would give (quarantined at the
	// quarantine step).
	State DeviceState `json:"state,omitempty"`
}

// Equal reports whether two would-be verdicts are the same (nil for none).
func (w *WouldCompliance) Equal(o *WouldCompliance) bool {
	if w == nil || o == nil {
		return w == o
	}
	return slices.Equal(w.Policies, o.Policies) && w.Compliant == o.Compliant && slices.Equal(w.FailingChecks, o.FailingChecks) &&
		w.FailingSince.Equal(o.FailingSince) && w.EscalationStep == o.EscalationStep && w.Trust == o.Trust &&
		w.TrustReason == o.TrustReason && w.State == o.State
}

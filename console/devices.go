package console

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
)

// deviceSummary is a device as the inventory lists it.
type deviceSummary struct {
	ID            string          `json:"id"`
	Name          string          `json:"name,omitempty"`
	Serial        string          `json:"serial,omitempty"`
	Platform      string          `json:"platform,omitempty"`
	Model         string          `json:"model,omitempty"`
	Ownership     store.Ownership `json:"ownership"`
	OwnerEmail    string          `json:"owner_email,omitempty"`
	State         string          `json:"state"`
	Trust         store.Trust     `json:"trust"`
	Compliant     bool            `json:"compliant"`
	FailingChecks []string        `json:"failing_checks,omitempty"`
	WorkProfile   bool            `json:"work_profile,omitempty"`
	EnrolledAt    time.Time       `json:"enrolled_at,omitzero"`
	LastSeen      time.Time       `json:"last_seen,omitzero"`
	// Who decided the ownership, what the employee asked for while it
	// waits for approval, where the key lives, and whether any signed-in
	// user may use the device.
	OwnershipSource    string          `json:"ownership_source,omitempty"`
	RequestedOwnership store.Ownership `json:"requested_ownership,omitempty"`
	KeyProtection      string          `json:"key_protection"`
	// KeyProtectionSource says who stated KeyProtection (agent_claim).
	KeyProtectionSource string `json:"key_protection_source,omitempty"`
	Shared              bool   `json:"shared,omitempty"`
}

func summarize(d *store.Device) deviceSummary {
	return deviceSummary{ID: d.ID, Name: d.Name, Serial: d.Serial, Platform: d.Platform, Model: d.Model,
		Ownership: d.Ownership, OwnerEmail: d.OwnerEmail, State: string(d.State), Trust: d.Trust, Compliant: d.Compliant,
		FailingChecks: d.FailingChecks, WorkProfile: d.WorkProfile, EnrolledAt: d.EnrolledAt, LastSeen: d.LastSeen,
		OwnershipSource: d.OwnershipSource, RequestedOwnership: d.RequestedOwnership, KeyProtection: keyProtection(d),
		KeyProtectionSource: d.KeyProtectionSource, Shared: d.Shared}
}

// keyProtection is where the device's key lives as the API shows it:
// hardware or software (an unknown value is software).
func keyProtection(d *store.Device) string {
	if d.HardwareKey() {
		return store.KeyHardware
	}
	return store.KeySoftware
}

// getDevice is GET /api/v1/devices/{id}: the device with its trust,
// compliance, failing checks, posture signals, actions and history.
// Looking at a device's posture is recorded in the audit log: employees
// may ask who looked at what their device reports.
func (c *Console) getDevice(g *gin.Context) {
	v, err := c.viewDevice(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, v)
}

// destructive action types need PermDevicesWipe besides PermDevicesAct.
func destructive(typ string) bool {
	switch typ {
	case enrollment.ActionWipe, enrollment.ActionSelectiveWipe, enrollment.ActionRevoke:
		return true
	}
	return false
}

// mayRequest refuses a destructive action type (wipe, selective_wipe,
// revoke) to a role without PermDevicesWipe.
func mayRequest(g *gin.Context, typ string) error {
	if destructive(typ) && !perms[who(g).Role][PermDevicesWipe] {
		return apperr.New(apperr.Forbidden, "your role (%s) does not allow %s actions (%s)", who(g).Role, typ, PermDevicesWipe)
	}
	return nil
}

// deviceAction is the one code path of a device action, from the API and
// the device page: the role's right to the action type, then the
// registry's own checks (a BYOD device is never fully wiped, a retired
// one takes no action), queued or run in the caller's name.
func (c *Console) deviceAction(g *gin.Context, req enrollment.ActionRequest, idemKey string) (*store.Action, bool, error) {
	if err := mayRequest(g, req.Type); err != nil {
		return nil, false, err
	}
	return c.opts.Enrollment.RequestAction(g.Request.Context(), actor(g), g.Param("id"), req, idemKey)
}

// requestAction is POST /api/v1/devices/{id}/actions with an optional
// Idempotency-Key header: 201 with a new action, 200 with the action a
// previous request with the same key created; a full wipe waits for a
// second person's approval (202 with the approval request).
func (c *Console) requestAction(g *gin.Context) {
	req, ok := parseBody(c, g, MaxBodyBytes, enrollment.ParseActionRequest)
	if !ok {
		return
	}
	if c.needsApproval(req.Type, 1) {
		a, err := c.askApproval(g, req, g.GetHeader("Idempotency-Key"))
		if err != nil {
			c.fail(g, err)
			return
		}
		accepted(g, a)
		return
	}
	act, created, err := c.deviceAction(g, req, g.GetHeader("Idempotency-Key"))
	if err != nil {
		c.fail(g, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	g.JSON(status, act)
}

// listActions is GET /api/v1/devices/{id}/actions.
func (c *Console) listActions(g *gin.Context) {
	acts, err := c.opts.Enrollment.Actions(g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"actions": acts})
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// retireDevice is POST /api/v1/devices/{id}/retire: ask for a second
// person's approval (202 with the request) to revoke its certificates and
// take it out of management.
func (c *Console) retireDevice(g *gin.Context) {
	var req reasonRequest
	if g.Request.ContentLength != 0 {
		if err := decode(g, &req); err != nil {
			c.fail(g, err)
			return
		}
	}
	if !c.needsApproval(ActionRetire, 1) { // approvals.disabled
		d, err := c.opts.Enrollment.Retire(g.Request.Context(), actor(g), g.Param("id"), req.Reason)
		if err != nil {
			c.fail(g, err)
			return
		}
		g.JSON(http.StatusOK, summarize(d))
		return
	}
	a, err := c.requestApproval(g, ActionRetire, []string{g.Param("id")}, nil, req.Reason, g.GetHeader("Idempotency-Key"))
	if err != nil {
		c.fail(g, err)
		return
	}
	accepted(g, a)
}

// askApproval is the one code path of asking for a device action that
// needs a second person, from the API and the device page: the role's
// right to the type, then the pending request.
func (c *Console) askApproval(g *gin.Context, req enrollment.ActionRequest, idemKey string) (*store.Approval, error) {
	if err := mayRequest(g, req.Type); err != nil {
		return nil, err
	}
	if err := req.Check(); err != nil {
		return nil, err
	}
	return c.requestApproval(g, req.Type, []string{g.Param("id")}, req.Params, req.Params["reason"], idemKey)
}

// releaseDevice is POST /api/v1/devices/{id}/release: end a quarantine.
func (c *Console) releaseDevice(g *gin.Context) {
	d, err := c.opts.Enrollment.Release(g.Request.Context(), actor(g), g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, summarize(d))
}

// devicePrivacy is GET /api/v1/devices/{id}/privacy: what the
// organization can see on this device, as JSON and as plain text.
func (c *Console) devicePrivacy(g *gin.Context) {
	n, err := c.opts.Enrollment.Privacy(g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"device_id": g.Param("id"), "notice": n, "text": posture.NoticeText(n)})
}

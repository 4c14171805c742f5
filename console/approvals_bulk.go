package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// MaxBulkDevices is the most devices one bulk action reaches: a longer
// list, or a filter matching more, is refused (413) and must be split.
const MaxBulkDevices = 1000

// ActionRelease is the bulk action that ends a quarantine (the others are
// action types of package enrollment, and ActionRetire).
const ActionRelease = "release"

// bulkTypes are the action types of POST /api/v1/devices/actions.
var bulkTypes = []string{enrollment.ActionLock, enrollment.ActionMessage, enrollment.ActionSelectiveWipe, enrollment.ActionWipe,
	enrollment.ActionRevoke, enrollment.ActionQuarantine, ActionRelease, ActionRetire}

// bulkRequest is the body of POST /api/v1/devices/actions: one action on
// the listed devices, or on the devices a filter of GET /api/v1/devices
// selects (without a state filter, retired and wiped devices are left
// out: they take no actions).
type bulkRequest struct {
	Type    string            `json:"type"`
	Devices []string          `json:"devices"`
	Filter  map[string]string `json:"filter"`
	Params  map[string]string `json:"params"`
	Reason  string            `json:"reason"`
}

// bulkResult is what one device's part of a bulk action did.
type bulkResult struct {
	Device string `json:"device"`
	// Result is "queued <action id>", "done <action id>" for an action
	// the server runs itself, "released", "retired" or "failed: <why>".
	Result string        `json:"result"`
	Action *store.Action `json:"action,omitempty"`
}

// bulkAnswer is the 200 answer of a bulk action run at once.
type bulkAnswer struct {
	Type    string       `json:"type"`
	Count   int          `json:"count"`
	Results []bulkResult `json:"results"`
}

// bulkParams checks the type, the caller's right to it and its
// parameters, with the reason folded into params.reason for the action
// types that keep one.
func bulkParams(g *gin.Context, req bulkRequest) (map[string]string, error) {
	if !slices.Contains(bulkTypes, req.Type) {
		return nil, apperr.Field("type", "type must be one of %s", strings.Join(bulkTypes, ", "))
	}
	if err := mayRequest(g, req.Type); err != nil {
		return nil, err
	}
	if req.Type == ActionRetire && !perms[who(g).Role][PermDevicesWipe] {
		return nil, apperr.New(apperr.Forbidden, "your role (%s) does not allow retire actions (%s)", who(g).Role, PermDevicesWipe)
	}
	if len(req.Reason) > 200 {
		return nil, apperr.Field("reason", "reason must be at most 200 characters")
	}
	if req.Type == ActionRelease || req.Type == ActionRetire {
		if len(req.Params) > 0 {
			return nil, apperr.Field("params", "a %s takes no parameters", req.Type)
		}
		return nil, nil
	}
	params := map[string]string{}
	for k, v := range req.Params {
		params[k] = v
	}
	if req.Reason != "" && req.Type != enrollment.ActionMessage {
		params["reason"] = req.Reason
	}
	ar := enrollment.ActionRequest{Type: req.Type, Params: params}
	if err := ar.Check(); err != nil {
		return nil, err
	}
	if len(params) == 0 {
		params = nil
	}
	return params, nil
}

// bulkDevices resolves the request's devices: the list (each id once, at
// most MaxBulkDevices) or the filter's matches, each checked able to take
// the action. An error names the field at fault: devices[i] for a listed
// device, filter or filter.<name> for the filter.
func (c *Console) bulkDevices(req bulkRequest) ([]string, error) {
	var ids []string
	var field func(i int) string
	switch {
	case req.Devices != nil && req.Filter != nil:
		return nil, apperr.Field("filter", "give the devices' ids or a filter, not both")
	case req.Filter != nil:
		var err error
		if ids, err = c.filteredDevices(req.Filter); err != nil {
			return nil, err
		}
		field = func(int) string { return "filter" }
	case len(req.Devices) == 0:
		return nil, apperr.Field("devices", "devices must list at least one device id (or give a filter)")
	case len(req.Devices) > MaxBulkDevices:
		return nil, &apperr.Error{Code: apperr.TooLarge, Field: "devices",
			Msg: fmt.Sprintf("one bulk action reaches at most %d devices (got %d): split the list", MaxBulkDevices, len(req.Devices))}
	default:
		seen := map[string]bool{}
		for i, id := range req.Devices {
			if id == "" || len(id) > 128 {
				return nil, apperr.Field(fmt.Sprintf("devices[%d]", i), "devices[%d] must be a device id", i)
			}
			if seen[id] {
				return nil, apperr.Field(fmt.Sprintf("devices[%d]", i), "device %s is listed twice", id)
			}
			seen[id] = true
		}
		ids, field = req.Devices, func(i int) string { return fmt.Sprintf("devices[%d]", i) }
	}
	typ := req.Type
	if typ == ActionRelease {
		typ = enrollment.ActionQuarantine // the same checks: it exists and is in service
	}
	for i, id := range ids {
		if _, err := c.opts.Enrollment.Actionable(id, typ); err != nil {
			return nil, onField(err, field(i))
		}
	}
	return ids, nil
}

// onField names field on a refusal of the registry's, keeping its status
// (404 for an unknown device becomes 400: the id in the body is wrong).
func onField(err error, field string) error {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return err
	}
	out := *ae
	out.Field = field
	if out.Code == apperr.NotFound {
		out.Code = apperr.Invalid
	}
	return &out
}

// filteredDevices is the ids of the devices a bulk filter selects, in
// service unless it asks for a state; at most MaxBulkDevices.
func (c *Console) filteredDevices(filter map[string]string) ([]string, error) {
	for k := range filter {
		if !slices.Contains(deviceFilterNames, k) {
			return nil, apperr.Field("filter."+k, "unknown filter %q: use the filters of GET /api/v1/devices (%s)", k, strings.Join(deviceFilterNames, ", "))
		}
	}
	f, err := deviceFilterOf(func(k string) string { return filter[k] }, "filter.")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, d := range c.opts.Enrollment.Devices(f) {
		if f.State == "" && (d.State == store.DeviceRetired || d.State == store.DeviceWiped) {
			continue
		}
		ids = append(ids, d.ID)
	}
	switch {
	case len(ids) == 0:
		return nil, apperr.Field("filter", "the filter matches no device in service")
	case len(ids) > MaxBulkDevices:
		return nil, &apperr.Error{Code: apperr.TooLarge, Field: "filter",
			Msg: fmt.Sprintf("the filter matches %d devices; one bulk action reaches at most %d: narrow the filter", len(ids), MaxBulkDevices)}
	}
	return ids, nil
}

// bulkAction is the one code path of a bulk action, from the API and the
// devices page: checked whole before anything runs; then, for a full
// wipe, a retire, or more devices than the bulk threshold, one approval
// request (returned), else every device's action at once, audited
// (device.bulk_action, beside each device's own entry).
func (c *Console) bulkAction(g *gin.Context, req bulkRequest, idemKey string) (*bulkAnswer, *store.Approval, error) {
	params, err := bulkParams(g, req)
	if err != nil {
		return nil, nil, err
	}
	ids, err := c.bulkDevices(req)
	if err != nil {
		return nil, nil, err
	}
	if c.needsApproval(req.Type, len(ids)) {
		a, err := c.requestApproval(g, req.Type, ids, params, req.Reason, idemKey)
		return nil, a, err
	}
	ctx := context.WithoutCancel(g.Request.Context()) // begun: it runs to its end
	out := &bulkAnswer{Type: req.Type, Count: len(ids), Results: make([]bulkResult, 0, len(ids))}
	var summary []string
	for _, id := range ids {
		r := c.runOn(ctx, g, req.Type, params, req.Reason, id, idemKey)
		out.Results = append(out.Results, r)
		summary = append(summary, id+": "+r.Result)
	}
	detail := map[string]string{"action": req.Type, "count": strconv.Itoa(len(ids)), "devices": strings.Join(ids, ","),
		"reason": req.Reason, "result": strings.Join(summary, "; ")}
	if err := c.opts.Store.Write(ctx, c.audit(g, "device.bulk_action", "", detail)); err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// runOn is one device's part of a bulk action or of an approved request,
// in the caller's name: the registry's action (queued, or done by the
// server), a release or a retire.
func (c *Console) runOn(ctx context.Context, g *gin.Context, typ string, params map[string]string, reason, dev, idemKey string) bulkResult {
	by := actor(g)
	switch typ {
	case ActionRetire:
		if _, err := c.opts.Enrollment.Retire(ctx, by, dev, reason); err != nil {
			return bulkResult{Device: dev, Result: "failed: " + err.Error()}
		}
		return bulkResult{Device: dev, Result: "retired"}
	case ActionRelease:
		if _, err := c.opts.Enrollment.Release(ctx, by, dev); err != nil {
			return bulkResult{Device: dev, Result: "failed: " + err.Error()}
		}
		return bulkResult{Device: dev, Result: "released"}
	}
	act, _, err := c.opts.Enrollment.RequestAction(ctx, by, dev, enrollment.ActionRequest{Type: typ, Params: params}, idemKey)
	if err != nil {
		return bulkResult{Device: dev, Result: "failed: " + err.Error()}
	}
	if act.Status == store.ActionQueued || act.Status == store.ActionDelivered {
		return bulkResult{Device: dev, Result: "queued " + act.ID, Action: act}
	}
	return bulkResult{Device: dev, Result: act.Status + " " + act.ID, Action: act}
}

// requestBulkAction is POST /api/v1/devices/actions (optional
// Idempotency-Key): 200 with each device's result when the actions ran at
// once; 202 with the approval request when a second person must approve.
func (c *Console) requestBulkAction(g *gin.Context) {
	var req bulkRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	out, a, err := c.bulkAction(g, req, g.GetHeader("Idempotency-Key"))
	switch {
	case err != nil:
		c.fail(g, err)
	case a != nil:
		accepted(g, a)
	default:
		g.JSON(http.StatusOK, out)
	}
}

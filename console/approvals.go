package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// Defaults of two-person approval when Options.Approvals leaves them unset
// (config: approvals.bulk_threshold, approvals.expiry).
const (
	DefaultApprovalBulkThreshold = 10
	DefaultApprovalTTL           = 24 * time.Hour
)

// ActionRetire is the approval action of a retire (the others are action
// types of package enrollment).
const ActionRetire = "retire"

// ApprovalOptions configure two-person approval of destructive fleet
// actions: a full wipe, a retire, and an action on more than
// BulkThreshold devices wait for a second person for at most TTL.
// BulkThreshold and Disabled are the config file's values, in force until
// the settings are changed at run time (see approvalSettings).
type ApprovalOptions struct {
	BulkThreshold int
	TTL           time.Duration
	// Disabled runs every action at once (config approvals.disabled).
	Disabled bool
}

// needsApproval reports whether an action on n devices waits for a second
// person: a full wipe, a retire, or more devices than the bulk threshold
// in force (see approvalSettings), unless approval is off.
func (c *Console) needsApproval(typ string, n int) bool {
	s, _ := c.approvalSettings()
	if s.Disabled {
		return false
	}
	return typ == enrollment.ActionWipe || typ == ActionRetire || n > s.BulkThreshold
}

// personKey names the person behind a request, whatever token or session
// they use: a person's tokens and sessions share it, so the requester of
// an approval cannot approve it with another token of theirs.
func personKey(p *principal) string {
	switch {
	case p.User != nil:
		return "user:" + p.User.ID
	case p.Token != nil && p.Token.OwnerID != "":
		return "user:" + p.Token.OwnerID
	case p.Token != nil && p.Token.ServiceAccount != "":
		return "service:" + p.Token.ServiceAccount
	case p.Token != nil:
		return "token:" + p.Token.ID
	}
	return p.Actor
}

// actorPerson is the person part of an audit actor: "user:ada@example.com"
// of "user:ada@example.com via token tok_1".
func actorPerson(actor string) string {
	person, _, _ := strings.Cut(actor, " via ")
	return person
}

// requestApproval records a pending request for typ on devices, audited
// (approval.requested). The devices are checked now (they exist, take
// actions, and a full wipe is allowed on them) so a request that could
// never run is refused at once.
//
// With an idempotency key (the API's Idempotency-Key header, a form's
// key), the same person asking again gets the first request: its id is
// derived from the person, the devices and the key, and created once.
func (c *Console) requestApproval(g *gin.Context, typ string, devices []string, params map[string]string, reason, idemKey string) (*store.Approval, error) {
	if len(reason) > 200 {
		return nil, apperr.Field("reason", "reason must be at most 200 characters")
	}
	if len(idemKey) > 128 {
		return nil, apperr.Field("Idempotency-Key", "the Idempotency-Key header must be at most 128 characters")
	}
	for _, id := range devices {
		if _, err := c.opts.Enrollment.Actionable(id, typ); err != nil {
			return nil, err
		}
	}
	ttl := c.approvalTTL()
	now := c.now().UTC()
	id := "apr_" + randomID(12)
	if idemKey != "" {
		sum := sha256.Sum256([]byte(personKey(who(g)) + "\x00" + strings.Join(devices, ",") + "\x00" + typ + "\x00" + idemKey))
		id = "apr_" + hex.EncodeToString(sum[:12])
	}
	a := &store.Approval{ID: id, Version: 1, Action: typ, Devices: devices, Params: params, Reason: reason,
		Requester: who(g).Actor, RequesterKey: personKey(who(g)), State: store.ApprovalPending, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	detail := map[string]string{"action": typ, "devices": strings.Join(devices, ","), "count": strconv.Itoa(len(devices)), "reason": reason}
	for k, v := range params {
		detail["params."+k] = v
	}
	err := c.opts.Store.Write(g.Request.Context(), store.Create(a), c.audit(g, "approval.requested", a.ID, detail))
	if errors.Is(err, store.ErrExists) {
		if prev, ok := c.opts.Store.Approval(id); ok {
			return c.approvalView(prev), nil
		}
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// pendingApproval loads a request that may still be decided: one past its
// expiry is marked expired (audited once, approval.expired) and refused.
func (c *Console) pendingApproval(g *gin.Context, id string) (*store.Approval, error) {
	a, ok := c.opts.Store.Approval(id)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no approval request %s", id)
	}
	switch a.StateAt(c.now()) {
	case store.ApprovalPending:
		return a, nil
	case store.ApprovalExpired:
		if a.State == store.ApprovalPending {
			_, _ = c.decide(g, a, store.ApprovalExpired, "approval.expired", nil)
		}
		return nil, apperr.New(apperr.Conflict, "approval request %s expired at %s: ask again", id, a.ExpiresAt.Format(time.RFC3339))
	}
	return nil, apperr.New(apperr.Conflict, "approval request %s was already %s by %s", id, a.State, a.DecidedBy)
}

// decide moves a from its stored version to state, audited, with a
// compare-and-set write: of two people deciding at once (maybe on two
// replicas), one wins and the other gets a conflict.
func (c *Console) decide(g *gin.Context, a *store.Approval, state, auditAction string, detail map[string]string) (*store.Approval, error) {
	next := *a
	next.Version, next.State = a.Version+1, state
	if state != store.ApprovalExpired {
		next.DecidedBy, next.DecidedAt = who(g).Actor, c.now().UTC()
	}
	if detail == nil {
		detail = map[string]string{}
	}
	detail["action"], detail["devices"] = a.Action, strings.Join(a.Devices, ",")
	err := c.opts.Store.Write(g.Request.Context(), store.PutIf(&next, a.Version), c.audit(g, auditAction, a.ID, detail))
	if errors.Is(err, store.ErrConflict) {
		return nil, apperr.New(apperr.Conflict, "approval request %s was decided by someone else meanwhile: reload", a.ID)
	}
	if err != nil {
		return nil, err
	}
	return &next, nil
}

// approve is the second person's yes: never the requester (compared by
// person, not token), then the compare-and-set to approved, then the
// action runs, once, and its result is recorded (approval.executed).
func (c *Console) approve(g *gin.Context, id string) (*store.Approval, error) {
	a, err := c.pendingApproval(g, id)
	if err != nil {
		return nil, err
	}
	if personKey(who(g)) == a.RequesterKey {
		return nil, apperr.New(apperr.Forbidden, "you requested this %s yourself: another administrator must approve it", a.Action)
	}
	if t := who(g).Token; t != nil && actorPerson(t.CreatedBy) == actorPerson(a.Requester) {
		return nil, apperr.New(apperr.Forbidden, "this token was created by the requester of this %s (%s): another administrator must approve it with their own session or token", a.Action, actorPerson(a.Requester))
	}
	if a, err = c.decide(g, a, store.ApprovalApproved, "approval.approved", map[string]string{"requester": a.Requester}); err != nil {
		return nil, err
	}
	return c.execute(g, a)
}

// execute runs an approved request in the approver's name (the audit log
// names both) and records what it did on the request: each device's
// action once (idempotency key approval-<id>), or the settings change.
func (c *Console) execute(g *gin.Context, a *store.Approval) (*store.Approval, error) {
	ctx := context.WithoutCancel(g.Request.Context()) // approved: it runs to its end
	var results []string
	if a.Action == ActionApprovalSettings {
		results = append(results, c.applyApprovedSettings(ctx, g, a))
	}
	for _, dev := range a.Devices {
		results = append(results, dev+": "+c.runOn(ctx, g, a.Action, a.Params, a.Reason, dev, "approval-"+a.ID).Result)
	}
	done := *a
	done.Version, done.ExecutedAt, done.Result = a.Version+1, c.now().UTC(), strings.Join(results, "; ")
	detail := map[string]string{"action": a.Action, "devices": strings.Join(a.Devices, ","), "count": strconv.Itoa(len(a.Devices)),
		"result": done.Result, "requester": a.Requester}
	if err := c.opts.Store.Write(ctx, store.PutIf(&done, a.Version), c.audit(g, "approval.executed", a.ID, detail)); err != nil {
		return nil, err
	}
	return &done, nil
}

// refuse is a second person's no (the requester cancels instead).
func (c *Console) refuse(g *gin.Context, id string) (*store.Approval, error) {
	a, err := c.pendingApproval(g, id)
	if err != nil {
		return nil, err
	}
	return c.decide(g, a, store.ApprovalRefused, "approval.refused", map[string]string{"requester": a.Requester})
}

// cancel is the requester taking their request back.
func (c *Console) cancel(g *gin.Context, id string) (*store.Approval, error) {
	a, err := c.pendingApproval(g, id)
	if err != nil {
		return nil, err
	}
	if personKey(who(g)) != a.RequesterKey {
		return nil, apperr.New(apperr.Forbidden, "only the requester (%s) may cancel this request; refuse it instead", a.Requester)
	}
	return c.decide(g, a, store.ApprovalCancelled, "approval.cancelled", nil)
}

// approvalView is a request as the API and the page show it: its state at
// now (a pending request past its expiry is expired).
func (c *Console) approvalView(a *store.Approval) *store.Approval {
	cp := *a
	cp.State = a.StateAt(c.now())
	return &cp
}

// awaitingApproval lists the pending requests about a device, for its page.
func (c *Console) awaitingApproval(device string) []*store.Approval {
	var out []*store.Approval
	for _, a := range c.opts.Store.Approvals() {
		if a.StateAt(c.now()) == store.ApprovalPending && slices.Contains(a.Devices, device) {
			out = append(out, a)
		}
	}
	return out
}

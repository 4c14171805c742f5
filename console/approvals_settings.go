package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// ActionApprovalSettings is the approval action of a change of the
// approval settings that lowers their protection.
const ActionApprovalSettings = "approval_settings"

// Sources of the effective approval settings.
const (
	settingsFromConfig = "config"
	settingsFromStore  = "store"
)

// approvalSettingsView is GET /api/v1/approvals/settings: the settings in
// force and where they come from ("config" until the first change at run
// time, then "store").
type approvalSettingsView struct {
	BulkThreshold int       `json:"bulk_threshold"`
	Disabled      bool      `json:"disabled"`
	Expiry        string    `json:"expiry"`
	Source        string    `json:"source"`
	Version       uint64    `json:"version"`
	UpdatedBy     string    `json:"updated_by,omitempty"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	Approval      string    `json:"approval,omitempty"`
}

// approvalSettings are the settings in force: the stored ones once
// someone changed them at run time, else the config file's.
func (c *Console) approvalSettings() (store.ApprovalSettings, string) {
	if s, ok := c.opts.Store.StoredApprovalSettings(); ok {
		return *s, settingsFromStore
	}
	limit := c.opts.Approvals.BulkThreshold
	if limit <= 0 {
		limit = DefaultApprovalBulkThreshold
	}
	return store.ApprovalSettings{ID: store.ApprovalSettingsID, BulkThreshold: limit, Disabled: c.opts.Approvals.Disabled}, settingsFromConfig
}

// ApprovalsOff reports whether two-person approval is off, by the
// settings in force (stored or from the config file): the server warns
// about it at start.
func (c *Console) ApprovalsOff() bool {
	s, _ := c.approvalSettings()
	return s.Disabled
}

// approvalTTL is how long a request waits (config approvals.expiry).
func (c *Console) approvalTTL() time.Duration {
	if c.opts.Approvals.TTL <= 0 {
		return DefaultApprovalTTL
	}
	return c.opts.Approvals.TTL
}

func (c *Console) settingsView() approvalSettingsView {
	s, src := c.approvalSettings()
	return approvalSettingsView{BulkThreshold: s.BulkThreshold, Disabled: s.Disabled, Expiry: c.approvalTTL().String(), Source: src,
		Version: s.Version, UpdatedBy: s.UpdatedBy, UpdatedAt: s.UpdatedAt, Approval: s.Approval}
}

// getApprovalSettings is GET /api/v1/approvals/settings.
func (c *Console) getApprovalSettings(g *gin.Context) { g.JSON(http.StatusOK, c.settingsView()) }

// settingsRequest is the body of PUT /api/v1/approvals/settings.
type settingsRequest struct {
	BulkThreshold *int   `json:"bulk_threshold"`
	Disabled      bool   `json:"disabled"`
	Reason        string `json:"reason"`
}

// check reads the requested settings: a threshold from 1 to MaxBulkDevices.
func (r settingsRequest) check() (store.ApprovalSettings, error) {
	if r.BulkThreshold == nil {
		return store.ApprovalSettings{}, apperr.Field("bulk_threshold", "bulk_threshold is required: the number of devices above which one action needs approval")
	}
	if n := *r.BulkThreshold; n < 1 || n > MaxBulkDevices {
		return store.ApprovalSettings{}, apperr.Field("bulk_threshold", "bulk_threshold must be a number from 1 to %d", MaxBulkDevices)
	}
	return store.ApprovalSettings{ID: store.ApprovalSettingsID, BulkThreshold: *r.BulkThreshold, Disabled: r.Disabled}, nil
}

// lowersProtection reports whether going from cur to next lets more run
// without a second person: turning approval off, or raising the number
// of devices one action may reach alone. With approval already off,
// nothing lowers it further.
func lowersProtection(cur, next store.ApprovalSettings) bool {
	if cur.Disabled {
		return false
	}
	return next.Disabled || next.BulkThreshold > cur.BulkThreshold
}

// changeApprovalSettings is the one code path of a settings change, from
// the API and the approvals page: a change that raises protection (or
// keeps it) applies at once; one that lowers it becomes an approval
// request that a second person must approve (returned, nil settings).
func (c *Console) changeApprovalSettings(g *gin.Context, req settingsRequest, idemKey string) (*approvalSettingsView, *store.Approval, error) {
	next, err := req.check()
	if err != nil {
		return nil, nil, err
	}
	cur, _ := c.approvalSettings()
	if lowersProtection(cur, next) {
		params := map[string]string{"bulk_threshold": strconv.Itoa(next.BulkThreshold), "disabled": strconv.FormatBool(next.Disabled)}
		a, err := c.requestApproval(g, ActionApprovalSettings, []string{}, params, req.Reason, idemKey)
		return nil, a, err
	}
	if len(req.Reason) > 200 {
		return nil, nil, apperr.Field("reason", "reason must be at most 200 characters")
	}
	if err := c.applySettings(g.Request.Context(), g, next, "", req.Reason); err != nil {
		return nil, nil, err
	}
	v := c.settingsView()
	return &v, nil, nil
}

// applySettings stores next over the settings in force, audited
// (approval.settings, with the values before and after and the approving
// request, if any), with a compare-and-set on the stored record.
func (c *Console) applySettings(ctx context.Context, g *gin.Context, next store.ApprovalSettings, approval, reason string) error {
	cur, src := c.approvalSettings()
	next.ID, next.Version = store.ApprovalSettingsID, cur.Version+1
	next.UpdatedBy, next.UpdatedAt, next.Approval = who(g).Actor, c.now().UTC(), approval
	detail := map[string]string{"before": settingsText(cur), "after": settingsText(next), "source_before": src, "reason": reason}
	if approval != "" {
		detail["approval"] = approval
	}
	err := c.opts.Store.Write(ctx, store.PutIf(&next, cur.Version), c.audit(g, "approval.settings", store.ApprovalSettingsID, detail))
	if errors.Is(err, store.ErrConflict) {
		return apperr.New(apperr.Conflict, "the approval settings were changed by someone else meanwhile: reload and try again")
	}
	return err
}

// applyApprovedSettings runs an approved settings change: the values the
// requester asked for, as the request's result.
func (c *Console) applyApprovedSettings(ctx context.Context, g *gin.Context, a *store.Approval) string {
	n, err := strconv.Atoi(a.Params["bulk_threshold"])
	if err != nil {
		return "failed: the request holds no valid bulk_threshold"
	}
	next := store.ApprovalSettings{BulkThreshold: n, Disabled: a.Params["disabled"] == "true"}
	if err := c.applySettings(ctx, g, next, a.ID, a.Reason); err != nil {
		return "failed: " + err.Error()
	}
	return "applied: " + settingsText(next)
}

// settingsText is settings as the audit log and a result show them.
func settingsText(s store.ApprovalSettings) string {
	return fmt.Sprintf("bulk_threshold=%d disabled=%t", s.BulkThreshold, s.Disabled)
}

// putApprovalSettings is PUT /api/v1/approvals/settings: 200 with the
// settings in force when the change applied at once, 202 with the
// approval request when it lowers protection.
func (c *Console) putApprovalSettings(g *gin.Context) {
	var req settingsRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	v, a, err := c.changeApprovalSettings(g, req, g.GetHeader("Idempotency-Key"))
	switch {
	case err != nil:
		c.fail(g, err)
	case a != nil:
		accepted(g, a)
	default:
		g.JSON(http.StatusOK, v)
	}
}

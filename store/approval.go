package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// KindApproval is the kind of two-person approval requests.
const KindApproval Kind = "approval"

// Approval states.
const (
	ApprovalPending   = "pending"
	ApprovalApproved  = "approved"
	ApprovalRefused   = "refused"
	ApprovalExpired   = "expired"
	ApprovalCancelled = "cancelled"
)

// Approval is a request for a destructive fleet action (a full wipe, a
// retire, an action on many devices) that a second person must approve
// before anything is queued. It takes compare-and-set writes (Version):
// two approvers racing on two replicas execute the action once.
type Approval struct {
	ID      string            `json:"id"`
	Version uint64            `json:"version"`
	Action  string            `json:"action"` // wipe, retire, or the bulk action's type
	Devices []string          `json:"devices"`
	Params  map[string]string `json:"params,omitempty"`
	Reason  string            `json:"reason,omitempty"`
	// Requester is the audit log's name of who asked (person and token or
	// session); RequesterKey names the person alone (user:<id>,
	// service:<name> or token:<id>), which approval compares.
	Requester    string    `json:"requester"`
	RequesterKey string    `json:"requester_key"`
	State        string    `json:"state"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	// DecidedBy and DecidedAt are set when the request leaves pending
	// (approved, refused, cancelled).
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	// ExecutedAt is when the approved action ran; Result is what it did or
	// why it failed.
	ExecutedAt time.Time `json:"executed_at,omitzero"`
	Result     string    `json:"result,omitempty"`
}

// Kind implements Record.
func (*Approval) Kind() Kind { return KindApproval }

// Key implements Record.
func (r *Approval) Key() string { return r.ID }

// StateAt is the request's state at now: a pending request past its
// expiry is expired.
func (r *Approval) StateAt(now time.Time) string {
	if r.State == ApprovalPending && !now.Before(r.ExpiresAt) {
		return ApprovalExpired
	}
	return r.State
}

// Approval returns an approval request by id.
func (s *Store) Approval(id string) (*Approval, bool) {
	return first[Approval](s.Txn(), KindApproval, "id", id)
}

// Approvals returns every approval request, newest first.
func (s *Store) Approvals() []*Approval {
	out := all[Approval](s.Txn(), KindApproval, "id")
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// ExpireApprovals records as expired every pending request past its
// expiry at now, each with an audit entry (approval.expired by "system"),
// and returns how many it expired. Each is a compare-and-set write: a
// request someone decided meanwhile (maybe on another replica) is left
// as they decided it. The enrollment sweeps run it under their lease.
func (s *Store) ExpireApprovals(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for _, a := range s.Approvals() {
		if a.State != ApprovalPending || now.Before(a.ExpiresAt) {
			continue
		}
		next := *a
		next.Version, next.State = a.Version+1, ApprovalExpired
		ev := NewAuditEvent(now, "system", "approval.expired", a.ID)
		ev.Detail = map[string]string{"action": a.Action, "devices": strings.Join(a.Devices, ","),
			"count": strconv.Itoa(len(a.Devices)), "requester": a.Requester, "expires_at": a.ExpiresAt.UTC().Format(time.RFC3339)}
		err := s.Write(ctx, PutIf(&next, a.Version), Put(ev))
		switch {
		case errors.Is(err, ErrConflict):
			continue
		case err != nil:
			return n, fmt.Errorf("store: expire approval %s: %w", a.ID, err)
		}
		n++
	}
	return n, nil
}

// KindApprovalSettings is the kind of the stored approval settings (one
// record, ApprovalSettingsID).
const KindApprovalSettings Kind = "approval_settings"

// ApprovalSettingsID is the id of the one ApprovalSettings record.
const ApprovalSettingsID = "approvals"

// ApprovalSettings are the two-person approval settings changed at run
// time (PUT /api/v1/approvals/settings). Until the first change there is
// no record and the config file's approvals section applies; once
// stored, they take precedence over it. Compare-and-set writes (Version).
type ApprovalSettings struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	// BulkThreshold: an action on more devices than this at once needs a
	// second person's approval.
	BulkThreshold int `json:"bulk_threshold"`
	// Disabled turns two-person approval off.
	Disabled bool `json:"disabled"`
	// UpdatedBy and UpdatedAt say who made the last change and when;
	// Approval is the request that approved it, when it needed one.
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
	Approval  string    `json:"approval,omitempty"`
}

// Kind implements Record.
func (*ApprovalSettings) Kind() Kind { return KindApprovalSettings }

// Key implements Record.
func (r *ApprovalSettings) Key() string { return r.ID }

// StoredApprovalSettings returns the stored approval settings, if any
// were ever changed at run time.
func (s *Store) StoredApprovalSettings() (*ApprovalSettings, bool) {
	return first[ApprovalSettings](s.Txn(), KindApprovalSettings, "id", ApprovalSettingsID)
}

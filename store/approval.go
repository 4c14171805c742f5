package store

import (
	"sort"
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

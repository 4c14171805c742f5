package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// KindAudit is the kind of audit events.
const KindAudit Kind = "audit"

// AuditEvent records one administrative action: who did what to what, from
// where. It is written in the same transaction as the change it describes.
type AuditEvent struct {
	ID       string            `json:"id"` // sorts by time
	At       time.Time         `json:"at"`
	Actor    string            `json:"actor"` // "token:<id>", "user:<email>", "system"
	Action   string            `json:"action"`
	Target   string            `json:"target,omitempty"`
	RemoteIP string            `json:"remote_ip,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
}

func (*AuditEvent) Kind() Kind    { return KindAudit }
func (r *AuditEvent) Key() string { return r.ID }

// TimeID returns a unique id that sorts by time: for audit events, device
// events and anything else read in time order.
func TimeID(at time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%020d-%s", at.UnixNano(), hex.EncodeToString(r[:]))
}

// NewAuditEvent returns an event at time at with an id that sorts by time.
func NewAuditEvent(at time.Time, actor, action, target string) *AuditEvent {
	return &AuditEvent{ID: TimeID(at), At: at.UTC(), Actor: actor, Action: action, Target: target}
}

// Audit returns the audit events, oldest first.
func (s *Store) Audit() []*AuditEvent { return all[AuditEvent](s.Txn(), KindAudit, "id") }

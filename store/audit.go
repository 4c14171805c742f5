package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// KindAudit is the kind of audit events. Audit events are not part of the
// read model: a backend appends them to its audit log (see AuditLog), in the
// transaction of the change they describe, and they are read back with
// QueryAudit.
const KindAudit Kind = "audit"

// AuditEvent records one administrative action: who did what to what, from
// where. It is written in the same transaction as the change it describes.
//
// Seq, Prev and Hash are set by the backend when it appends the event to the
// audit log's hash chain (see SealAudit); an event being written has none.
type AuditEvent struct {
	ID       string            `json:"id"` // sorts by time
	At       time.Time         `json:"at"`
	Actor    string            `json:"actor"` // "token:<id>", "user:<email>", "system"
	Action   string            `json:"action"`
	Target   string            `json:"target,omitempty"`
	RemoteIP string            `json:"remote_ip,omitempty"`
	Detail   map[string]string `json:"detail,omitempty"`
	// Seq is the event's position in the audit log: 1, 2, 3… in the order
	// the events were committed.
	Seq uint64 `json:"seq,omitempty"`
	// Prev is the Hash of the event at Seq-1 ("" for the first event ever).
	Prev string `json:"prev,omitempty"`
	// Hash is the hex SHA-256 of this event's canonical encoding (see AuditHash).
	Hash string `json:"hash,omitempty"`
	// Pos is where the backend keeps the event (its key), set by
	// QueryAudit: what cursors page by. It equals Seq unless the stored
	// entry was tampered with; it is neither encoded nor hashed.
	Pos uint64 `json:"-"`
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

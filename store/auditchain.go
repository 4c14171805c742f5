package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// auditHashDomain starts every hashed encoding, so an audit hash can never
// be mistaken for the hash of anything else.
const auditHashDomain = "portier-audit-v1\n"

// AuditHash returns the hex SHA-256 of ev's canonical encoding:
// "portier-audit-v1\n" followed by ev's JSON encoding with Hash left out
// (fields in the order of the AuditEvent type, detail keys sorted, times in
// RFC 3339 UTC). Seq and Prev are inside the hashed bytes, so an event cannot
// be moved or re-linked without changing its hash.
func AuditHash(ev *AuditEvent) (string, error) {
	c := *ev
	c.Hash = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(auditHashDomain))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SealAudit appends the event encoded in value to a chain whose head is
// head: it gives the event the next Seq, links it to head and hashes it. It
// returns the sealed event and its encoding. Strings are made valid UTF-8
// first, so that the stored encoding decodes and re-encodes to the same
// bytes and anyone can recompute the hash.
func SealAudit(value []byte, head AuditLink) (*AuditEvent, []byte, error) {
	var ev AuditEvent
	if err := json.Unmarshal(value, &ev); err != nil {
		return nil, nil, fmt.Errorf("store: audit event: %w", err)
	}
	if ev.ID == "" {
		return nil, nil, fmt.Errorf("store: audit event without an id")
	}
	valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	ev.ID, ev.Actor, ev.Action = valid(ev.ID), valid(ev.Actor), valid(ev.Action)
	ev.Target, ev.RemoteIP = valid(ev.Target), valid(ev.RemoteIP)
	if len(ev.Detail) > 0 {
		d := make(map[string]string, len(ev.Detail))
		for k, v := range ev.Detail {
			d[valid(k)] = valid(v)
		}
		ev.Detail = d
	}
	ev.At = ev.At.UTC()
	ev.Seq, ev.Prev, ev.Hash = head.Seq+1, head.Hash, ""
	h, err := AuditHash(&ev)
	if err != nil {
		return nil, nil, err
	}
	ev.Hash = h
	b, err := json.Marshal(&ev)
	if err != nil {
		return nil, nil, err
	}
	return &ev, b, nil
}

// AuditBreak is the first place where an audit chain does not hold.
type AuditBreak struct {
	Seq    uint64 // the position of the broken entry
	ID     string // its id, "" when the entry is missing
	Reason string
}

func (b *AuditBreak) Error() string {
	if b.ID == "" {
		return fmt.Sprintf("audit log broken at entry %d: %s", b.Seq, b.Reason)
	}
	return fmt.Sprintf("audit log broken at entry %d (id %s): %s", b.Seq, b.ID, b.Reason)
}

// AuditVerifier checks a chain fed to it in Seq order, from the anchor on.
// Its zero value is not ready: use NewAuditVerifier.
type AuditVerifier struct {
	anchor AuditLink
	last   AuditLink
	n      int
	broken *AuditBreak
}

// NewAuditVerifier starts a check of the events that follow anchor (the
// zero AuditLink when nothing was ever pruned).
func NewAuditVerifier(anchor AuditLink) *AuditVerifier {
	return &AuditVerifier{anchor: anchor, last: anchor}
}

// Add checks the next event: that it is the next position, links to the
// one before, and hashes to its Hash. It returns the first break found
// (and keeps returning it).
func (v *AuditVerifier) Add(ev *AuditEvent) *AuditBreak {
	if v.broken != nil {
		return v.broken
	}
	want := v.last.Seq + 1
	switch {
	case ev.Seq > want:
		v.broken = &AuditBreak{Seq: want, Reason: fmt.Sprintf("the entry is missing or out of place (the next entry read claims position %d): entries were removed or reordered", ev.Seq)}
	case ev.Seq < want:
		v.broken = &AuditBreak{Seq: want, ID: ev.ID, Reason: fmt.Sprintf("an entry claiming position %d stands here: entries were reordered or copied", ev.Seq)}
	case ev.Prev != v.last.Hash:
		what := "the entry before it"
		if v.n == 0 {
			what = "the chain's anchor"
			if v.anchor.Seq == 0 {
				what = "the start of the log"
			}
		}
		v.broken = &AuditBreak{Seq: ev.Seq, ID: ev.ID, Reason: "it does not link to " + what + ": an entry before it was changed, removed or reordered"}
	default:
		h, err := AuditHash(ev)
		if err != nil || h != ev.Hash {
			v.broken = &AuditBreak{Seq: ev.Seq, ID: ev.ID, Reason: "its content does not match its hash: it was edited"}
		}
	}
	if v.broken != nil {
		return v.broken
	}
	v.last = AuditLink{Seq: ev.Seq, Hash: ev.Hash}
	v.n++
	return nil
}

// End checks that the log ends at head, and returns the first break found.
func (v *AuditVerifier) End(head AuditLink) *AuditBreak {
	if v.broken != nil {
		return v.broken
	}
	switch {
	case head.Seq > v.last.Seq:
		v.broken = &AuditBreak{Seq: v.last.Seq + 1, Reason: fmt.Sprintf("the log ends at entry %d but its head is entry %d: entries were removed from the end", v.last.Seq, head.Seq)}
	case head != v.last:
		v.broken = &AuditBreak{Seq: head.Seq, Reason: "the recorded head does not match the last entry"}
	}
	return v.broken
}

// Checked is how many events passed.
func (v *AuditVerifier) Checked() int { return v.n }

package store

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzAuditChainRoundTrip: whatever an event holds (text an attacker chose
// as a sign-in name, invalid UTF-8, control characters), once sealed it
// verifies after the trip a reader makes (the stored or returned JSON,
// decoded and hashed again), and changing any field breaks it.
func FuzzAuditChainRoundTrip(f *testing.F) {
	f.Add("user:ada@example.com", "device.view", "dev_1", "k", "v", int64(0))
	f.Add("=HYPERLINK(\"x\")", "signin.failure", "<script>&", "\xff\xfe", "\u2028\x00", int64(-1))
	f.Add("", "", "", "", "", int64(1<<62))
	f.Fuzz(func(t *testing.T, actor, action, target, dk, dv string, nanos int64) {
		at := time.Unix(0, nanos)
		ev := NewAuditEvent(at, actor, action, target)
		ev.Detail = map[string]string{dk: dv}
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Skip()
		}
		v := NewAuditVerifier(AuditLink{Seq: 41, Hash: "anchor"})
		head := AuditLink{Seq: 41, Hash: "anchor"}
		for i := range 2 {
			sealed, enc, err := SealAudit(raw, head)
			if err != nil {
				t.Fatalf("SealAudit: %v", err)
			}
			var back AuditEvent
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatalf("stored encoding does not decode: %v", err)
			}
			if b := v.Add(&back); b != nil {
				t.Fatalf("a sealed event does not verify after a round trip: %v\n%s", b, enc)
			}
			head = AuditLink{Seq: sealed.Seq, Hash: sealed.Hash}
			if i == 1 {
				back.Action += "x"
				if h, _ := AuditHash(&back); h == back.Hash {
					t.Fatal("an edited action keeps the hash")
				}
			}
		}
		if b := v.End(head); b != nil {
			t.Fatal(b)
		}
	})
}

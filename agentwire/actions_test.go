package agentwire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestActionResultValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     ActionResult
		field string
	}{
		{"acknowledged", ActionResult{Status: StatusAcknowledged, Result: "screen locked"}, ""},
		{"failed, multi-line", ActionResult{Status: StatusFailed, Result: "exit 1:\n\tno session"}, ""},
		{"unknown status", ActionResult{Status: "done"}, "status"},
		{"queued is the server's", ActionResult{Status: "queued"}, "status"},
		{"too long", ActionResult{Status: StatusFailed, Result: strings.Repeat("x", MaxResultBytes+1)}, "result"},
		{"escape sequence", ActionResult{Status: StatusFailed, Result: "\x1b[31mred"}, "result"},
		{"invalid UTF-8", ActionResult{Status: StatusFailed, Result: "\xff"}, "result"},
	} {
		err := tc.r.Validate()
		fe, _ := err.(*FieldError)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (fe == nil || fe.Field != tc.field):
			t.Errorf("%s: got %v, want an error on %s", tc.name, err, tc.field)
		}
	}
}

func TestClipResult(t *testing.T) {
	long := strings.Repeat("é", MaxResultBytes) // 2 bytes each: the cut falls inside one
	for _, tc := range []struct{ name, in string }{
		{"plain", "screen locked"},
		{"long", long},
		{"escapes", "\x1b[1mbold\x1b[0m\x00\x7f"},
		{"invalid UTF-8", "bad \xff\xfe bytes"},
	} {
		out := ClipResult(tc.in)
		if err := (ActionResult{Status: StatusFailed, Result: out}).Validate(); err != nil {
			t.Errorf("%s: the server would refuse the clipped result: %v", tc.name, err)
		}
	}
	if got := ClipResult("exit 1:\n\tno session"); got != "exit 1:\n\tno session" {
		t.Errorf("clean text changed: %q", got)
	}
	if got := ClipResult(long); !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) || !utf8.ValidString(got) {
		t.Errorf("a long result is not kept from its start: %q…", got[:16])
	}
}

// FuzzClipResult: whatever a failed command printed, the clipped result is
// one the server accepts.
func FuzzClipResult(f *testing.F) {
	for _, s := range []string{"", "ok", "\x1b[0m", "\xff", strings.Repeat("€", 2000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := (ActionResult{Status: StatusFailed, Result: ClipResult(s)}).Validate(); err != nil {
			t.Fatalf("ClipResult(%q) is refused: %v", s, err)
		}
	})
}

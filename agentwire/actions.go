package agentwire

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Remote action types, as Action.Type carries them.
const (
	ActionLock          = "lock"
	ActionSelectiveWipe = "selective_wipe"
	ActionWipe          = "wipe"
	ActionRevoke        = "revoke"
	ActionQuarantine    = "quarantine"
	ActionMessage       = "message"
	ActionRecollect     = "recollect"
)

// Action result statuses, as ActionResult.Status carries them.
const (
	StatusAcknowledged = "acknowledged"
	StatusFailed       = "failed"
)

// Long-poll bounds of GET /api/v1/agent/actions?wait=DURATION.
const (
	DefaultPollWait = 30 * time.Second
	MaxPollWait     = 60 * time.Second
)

// MaxResultBytes bounds ActionResult.Result.
const MaxResultBytes = 4096

// Action is a remote action as the server delivers it to the agent.
type Action struct {
	ID       string            `json:"id"`
	DeviceID string            `json:"device_id"`
	Type     string            `json:"type"`
	Params   map[string]string `json:"params,omitempty"`
	// Status is queued, delivered, acknowledged, failed or expired.
	Status      string    `json:"status"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	DoneAt      time.Time `json:"done_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at"`
	Result      string    `json:"result,omitempty"`
}

// Actions is the answer to GET /api/v1/agent/actions: the device's open
// actions, oldest first (empty when the wait ended with none).
type Actions struct {
	Actions []*Action `json:"actions"`
}

// ActionResult is the body of POST /api/v1/agent/actions/{id}/result: the
// agent's report on an action it ran. The answer is the Action as recorded.
type ActionResult struct {
	Status string `json:"status"` // StatusAcknowledged or StatusFailed
	Result string `json:"result"`
}

// FieldError names the field of a body that is not valid.
type FieldError struct {
	Field string
	Msg   string
}

// Error is the message, which names the field.
func (e *FieldError) Error() string { return e.Msg }

// Validate checks a result as the server accepts it: a known status, and
// at most MaxResultBytes of valid UTF-8 text whose only control characters
// are newlines and tabs.
func (r ActionResult) Validate() error {
	if r.Status != StatusAcknowledged && r.Status != StatusFailed {
		return &FieldError{Field: "status", Msg: "status must be acknowledged or failed"}
	}
	if len(r.Result) > MaxResultBytes || !utf8.ValidString(r.Result) || strings.IndexFunc(r.Result, badControl) >= 0 {
		return &FieldError{Field: "result", Msg: "result must be text of at most 4096 bytes"}
	}
	return nil
}

// badControl reports a control character other than newline and tab.
func badControl(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }

// ClipResult makes any text a valid ActionResult.Result: invalid UTF-8
// replaced, other control characters (a terminal's escape sequences) turned
// into spaces, cut to at most MaxResultBytes on a character boundary. The
// agent clips what it sends (a failed command's output can be long), so
// the server never refuses a result it could not fix.
func ClipResult(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if badControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= MaxResultBytes {
		return s
	}
	const more = "…"
	s = s[:MaxResultBytes-len(more)]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + more
}

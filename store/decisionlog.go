package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DecisionReason is one reason of a recorded decision: the machine code,
// the sentence and the remediation the deny page showed, and the rule it
// belongs to (policy.Reason, which this package cannot import).
type DecisionReason struct {
	Code        string `json:"code"`
	Message     string `json:"message,omitempty"`
	Remediation string `json:"remediation,omitempty"`
	Rule        string `json:"rule,omitempty"`
}

// Observed is what a route's report-only policy would have decided.
type Observed struct {
	Policy  string           `json:"policy"`
	Outcome string           `json:"outcome"`
	Rules   []string         `json:"rules"`
	Reasons []DecisionReason `json:"reasons"`
}

// DecisionFacts is the part of a decision's input kept so that the decision
// can be replayed against another policy. Ages are kept as buckets (see
// AgeBucket), the time of day as the record's hour, the path cut after
// MaxRecordedSegments segments; nothing else of the request is kept.
type DecisionFacts struct {
	Groups     []string `json:"groups"`
	IdP        string   `json:"idp,omitempty"`
	MFAAge     string   `json:"mfa_age"`     // AgeBucket of the time since the last MFA
	SessionAge string   `json:"session_age"` // AgeBucket of the time since sign-in
	Trust      string   `json:"trust"`
	Ownership  string   `json:"ownership"`
	Platform   string   `json:"platform,omitempty"`
	Compliant  bool     `json:"compliant"`
	Managed    bool     `json:"managed"`
	Checks     []string `json:"checks"`
	Key        string   `json:"key,omitempty"`
	KeySource  string   `json:"key_source,omitempty"` // tpm_attested, agent_claim or "" (policy.Device.KeySource)
	SeenAge    string   `json:"seen_age"`             // AgeBucket of the time since the device last reported
	IP         string   `json:"ip,omitempty"`
	Country    string   `json:"country,omitempty"`
	Method     string   `json:"method"`
	Path       string   `json:"path"`
}

// DecisionRecord is one line of recorded access: the distinct decisions
// with the same facts in one hour, with how many there were and when the
// first and last were made.
type DecisionRecord struct {
	Hour    time.Time        `json:"hour"`
	First   time.Time        `json:"first"`
	Last    time.Time        `json:"last"`
	Count   uint64           `json:"count"`
	Route   string           `json:"route"`
	Policy  string           `json:"policy"`
	UserID  string           `json:"user_id"`
	User    string           `json:"user"` // email, lower-case
	Device  string           `json:"device"`
	Outcome string           `json:"outcome"`
	Rules   []string         `json:"rules"`
	Reasons []DecisionReason `json:"reasons"`
	// ReportOnly is what the route's report-only policy would have decided;
	// nil when the route's policy is enforced.
	ReportOnly *Observed     `json:"report_only,omitempty"`
	Facts      DecisionFacts `json:"facts"`
	// Pos is the record's position in its hour, set by the backend; with
	// Hour it makes the cursor.
	Pos uint64 `json:"-"`
}

// Key is the record's identity within its hour: a hash of everything but
// the counts and times. Two records with the same Hour and Key are one.
func (r *DecisionRecord) Key() [16]byte {
	c := *r
	c.First, c.Last, c.Count, c.Pos = time.Time{}, time.Time{}, 0, 0
	b, _ := json.Marshal(&c) // a plain struct: cannot fail
	h := sha256.Sum256(b)
	var k [16]byte
	copy(k[:], h[:16])
	return k
}

// Merge adds o's count and time span to r (o has the same Key).
func (r *DecisionRecord) Merge(o *DecisionRecord) {
	r.Count += o.Count
	if o.First.Before(r.First) || r.First.IsZero() {
		r.First = o.First
	}
	if o.Last.After(r.Last) {
		r.Last = o.Last
	}
}

// Keyed is a record with its Key computed once.
type Keyed struct {
	Key [16]byte
	Rec *DecisionRecord
}

// MergeBatch folds records with the same hour and key into one (copies;
// the batch is not modified), keeping the first's place, so that a backend
// can upsert each once.
func MergeBatch(recs []*DecisionRecord) []Keyed {
	type id struct {
		hour int64
		key  [16]byte
	}
	seen := make(map[id]int, len(recs))
	out := make([]Keyed, 0, len(recs))
	for _, r := range recs {
		k := r.Key()
		if i, ok := seen[id{r.Hour.Unix(), k}]; ok {
			out[i].Rec.Merge(r)
			continue
		}
		c := *r
		seen[id{r.Hour.Unix(), k}] = len(out)
		out = append(out, Keyed{Key: k, Rec: &c})
	}
	return out
}

// MaxRecordedSegments is how many path segments a record keeps: /a/b/c/d
// is recorded as /a/b/c, so that ids in URLs do not make every request a
// new record.
const MaxRecordedSegments = 3

// RecordedPath cuts p after MaxRecordedSegments segments and 128 bytes.
func RecordedPath(p string) string {
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if n++; n > MaxRecordedSegments {
				p = p[:i]
				break
			}
		}
	}
	if len(p) > 128 {
		p = p[:128]
	}
	return p
}

// ageBounds are the upper bounds of the age buckets.
var ageBounds = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
	4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 72 * time.Hour, 168 * time.Hour, 720 * time.Hour}

// ageNames are the buckets' names, computed once: AgeBucket runs for
// every recorded decision.
var ageNames = func() []string {
	out := make([]string, len(ageBounds))
	for i, b := range ageBounds {
		out[i] = b.String()
	}
	return out
}()

// AgeNever and AgeOlder are the buckets of "never happened" and "older than
// the last bound (720h)".
const (
	AgeNever = "never"
	AgeOlder = "older"
)

// AgeBucket names the bucket of the time from since to now: the smallest
// bound it does not exceed ("5m0s" holds ages in (1m, 5m]), AgeOlder past
// the last, AgeNever for a zero since.
func AgeBucket(since, now time.Time) string {
	if since.IsZero() {
		return AgeNever
	}
	age := now.Sub(since)
	for i, b := range ageBounds {
		if age <= b {
			return ageNames[i]
		}
	}
	return AgeOlder
}

// AgeIndex is AgeBucket as a small number: 0 for never, then 1, 2, …
// in bucket order, the last for older.
func AgeIndex(since, now time.Time) int {
	if since.IsZero() {
		return 0
	}
	age := now.Sub(since)
	for i, b := range ageBounds {
		if age <= b {
			return i + 1
		}
	}
	return len(ageBounds) + 1
}

// AgeOf is the age a replay assumes for a bucket: its upper bound, the
// oldest the real age can have been (so a stricter draft is never shown
// as harmless because of the rounding); ok is false for AgeNever.
// AgeOlder is taken as 10 years.
func AgeOf(bucket string) (time.Duration, bool) {
	switch bucket {
	case AgeNever, "":
		return 0, false
	case AgeOlder:
		return 10 * 365 * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(bucket)
	if err != nil {
		return 0, false
	}
	return d, true
}

// DecisionQuery selects recorded decisions. Zero fields do not filter.
type DecisionQuery struct {
	// Since and Until select the records whose hour overlaps [Since, Until).
	Since, Until time.Time
	User         string // user id or email (case-insensitive)
	Device       string
	Route        string
	// ReportOnly nil takes every record; true only records with a
	// report-only decision, false only those without. When true, Outcome
	// and Rule filter the report-only decision instead of the enforced one.
	ReportOnly *bool
	Outcome    string
	Rule       string
	// Reason keeps records with a reason of this code (of the report-only
	// decision when ReportOnly is true).
	Reason string
	// After is a cursor (DecisionCursor.String of the last record of the
	// previous page); zero starts at the newest.
	After DecisionCursor
	// Limit bounds a page; 0 or more than MaxDecisionPage means MaxDecisionPage.
	Limit int
}

// MaxDecisionPage is the most records one QueryDecisions returns.
const MaxDecisionPage = 1000

// PageLimit is q.Limit bounded to 1..MaxDecisionPage.
func (q DecisionQuery) PageLimit() int {
	if q.Limit <= 0 || q.Limit > MaxDecisionPage {
		return MaxDecisionPage
	}
	return q.Limit
}

// Match reports whether r passes the filters (not the cursor).
func (q DecisionQuery) Match(r *DecisionRecord) bool {
	if !q.Since.IsZero() && !r.Hour.Add(time.Hour).After(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !r.Hour.Before(q.Until) {
		return false
	}
	if q.User != "" && r.UserID != q.User && !strings.EqualFold(r.User, q.User) {
		return false
	}
	if (q.Device != "" && r.Device != q.Device) || (q.Route != "" && r.Route != q.Route) {
		return false
	}
	outcome, rules, reasons := r.Outcome, r.Rules, r.Reasons
	if q.ReportOnly != nil {
		if *q.ReportOnly != (r.ReportOnly != nil) {
			return false
		}
		if *q.ReportOnly {
			outcome, rules, reasons = r.ReportOnly.Outcome, r.ReportOnly.Rules, r.ReportOnly.Reasons
		}
	}
	if q.Outcome != "" && outcome != q.Outcome {
		return false
	}
	if q.Reason != "" && !hasReason(reasons, q.Reason) {
		return false
	}
	if q.Rule != "" {
		for _, x := range rules {
			if x == q.Rule {
				return true
			}
		}
		return false
	}
	return true
}

// hasReason reports whether one of reasons has the code.
func hasReason(reasons []DecisionReason, code string) bool {
	for _, rs := range reasons {
		if rs.Code == code {
			return true
		}
	}
	return false
}

// DecisionCursor is a position in the decision log: records are ordered by
// hour, then by position within the hour, newest first.
type DecisionCursor struct {
	Hour int64 // unix seconds of the hour
	Pos  uint64
}

// IsZero reports whether c is the start.
func (c DecisionCursor) IsZero() bool { return c == DecisionCursor{} }

// CursorOf is the cursor just past r.
func CursorOf(r *DecisionRecord) DecisionCursor {
	return DecisionCursor{Hour: r.Hour.Unix(), Pos: r.Pos}
}

// String encodes the cursor for an API's next_cursor ("" at the start).
func (c DecisionCursor) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.Hour, 36) + "." + strconv.FormatUint(c.Pos, 36)
}

// ParseDecisionCursor reads a cursor String wrote.
func ParseDecisionCursor(s string) (DecisionCursor, error) {
	h, p, ok := strings.Cut(s, ".")
	hour, err1 := strconv.ParseInt(h, 36, 64)
	pos, err2 := strconv.ParseUint(p, 36, 63)
	if !ok || err1 != nil || err2 != nil || hour <= 0 || pos == 0 || hour%3600 != 0 {
		return DecisionCursor{}, fmt.Errorf("not a decision cursor: %q", s)
	}
	return DecisionCursor{Hour: hour, Pos: pos}, nil
}

// Before reports whether the record at (hour, pos) comes after c in the
// newest-first order (is older than c).
func (c DecisionCursor) Before(hour int64, pos uint64) bool {
	return c.IsZero() || hour < c.Hour || (hour == c.Hour && pos < c.Pos)
}

// DecisionPrune says what PruneDecisions removes: records of hours before
// Before, then the oldest while more than MaxRows remain (0: no bound); at
// most Limit records in one call.
type DecisionPrune struct {
	Before  time.Time
	MaxRows int
	Limit   int
}

// DecisionLog is a Backend that keeps recorded access apart from the
// records: it grows with traffic, is never loaded into the read model, and
// is read with cursors. Both durable backends implement it.
type DecisionLog interface {
	// AppendDecisions adds a batch: a record whose hour and Key are
	// already stored adds its count and time span to the stored one.
	AppendDecisions(ctx context.Context, recs []*DecisionRecord) error
	// QueryDecisions returns up to q.PageLimit() records matching q,
	// newest first, past q.After, with Pos set.
	QueryDecisions(ctx context.Context, q DecisionQuery) ([]*DecisionRecord, error)
	// ScanDecisions calls fn for every record matching q (the cursor and
	// limit aside), newest first, until fn returns an error.
	ScanDecisions(ctx context.Context, q DecisionQuery, fn func(*DecisionRecord) error) error
	// PruneDecisions removes what p says and returns how many it removed.
	PruneDecisions(ctx context.Context, p DecisionPrune) (int, error)
}

// ErrNoDecisionLog is returned when the backend keeps no decision log.
var ErrNoDecisionLog = errors.New("store: this backend keeps no decision log")

// Decisions is the backend's decision log.
func (s *Store) Decisions() (DecisionLog, error) {
	dl, ok := s.be.(DecisionLog)
	if !ok {
		return nil, ErrNoDecisionLog
	}
	return dl, nil
}

// RecordTimes sets a record's hour from its first time, truncated to the
// hour in UTC.
func RecordTimes(r *DecisionRecord) {
	r.Hour = r.First.UTC().Truncate(time.Hour)
}

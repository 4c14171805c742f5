package enrollment

import (
	"container/heap"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Device list sort keys (DeviceList.Sort, with a leading "-" for
// descending order).
const (
	SortLastSeen   = "last_seen"
	SortHostname   = "hostname"
	SortEnrolledAt = "enrolled_at"
	// DefaultDeviceSort is the order of a list that names none.
	DefaultDeviceSort = "-" + SortLastSeen
)

// ErrBadCursor is returned for a cursor this package did not make for the
// same sort order.
var ErrBadCursor = errors.New("cursor must be a next_cursor returned for the same sort")

// DeviceList is one page request over the inventory: the filter, the order
// ("last_seen", "hostname" or "enrolled_at", "-" first for descending), the
// cursor of the previous page ("" = first page) and the page size (<= 0 =
// every device after the cursor).
type DeviceList struct {
	Filter DeviceFilter
	Sort   string
	Cursor string
	Limit  int
}

// ValidDeviceSort reports whether s is a sort order DeviceList accepts.
func ValidDeviceSort(s string) bool {
	switch strings.TrimPrefix(s, "-") {
	case SortLastSeen, SortHostname, SortEnrolledAt:
		return true
	}
	return false
}

// deviceCursor is the position after the last device of a page: the sort
// order it belongs to, that device's sort key (text, or a time in Unix
// nanoseconds) and its id (the tie-break). Ids never change, so a device
// inserted between two pages is listed on a later page or not at all,
// never twice.
type deviceCursor struct {
	Sort string `json:"s"`
	Text string `json:"k,omitempty"`
	Time int64  `json:"t,omitempty"`
	ID   string `json:"i"`
}

func (c deviceCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, sort string) (deviceCursor, error) {
	var c deviceCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sort != sort || c.ID == "" {
		return c, ErrBadCursor
	}
	return c, nil
}

// listEntry is a device with its sort key, computed once: text for the
// hostname, Unix nanoseconds for times (0 when unknown).
type listEntry struct {
	text string
	time int64
	d    *store.Device
}

// entry is the device with its key for a sort key.
func entry(d *store.Device, key string) listEntry {
	switch key {
	case SortHostname:
		return listEntry{text: strings.ToLower(d.Hostname), d: d}
	case SortEnrolledAt:
		return listEntry{time: unixNano(d.EnrolledAt), d: d}
	}
	return listEntry{time: unixNano(d.LastSeen), d: d}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// before reports whether a comes before b in ascending (key, id) order.
func (a listEntry) before(b listEntry) bool {
	if a.time != b.time {
		return a.time < b.time
	}
	if a.text != b.text {
		return a.text < b.text
	}
	return a.d.ID < b.d.ID
}

// ListDevices answers one page of the inventory in the requested order and
// the cursor of the next page ("" when this is the last). It keeps only the
// page's devices while it scans (a bounded heap), so a first page over a
// large inventory costs one pass, not a sort of every device. The cursor is
// a position, not an offset: pages stay consistent under inserts.
func (s *Service) ListDevices(l DeviceList) ([]*store.Device, string, error) {
	order := l.Sort
	if order == "" {
		order = DefaultDeviceSort
	}
	if !ValidDeviceSort(order) {
		return nil, "", errors.New("unknown sort " + order)
	}
	desc := strings.HasPrefix(order, "-")
	key := strings.TrimPrefix(order, "-")
	var after *listEntry
	if l.Cursor != "" {
		c, err := decodeCursor(l.Cursor, order)
		if err != nil {
			return nil, "", err
		}
		after = &listEntry{text: c.Text, time: c.Time, d: &store.Device{ID: c.ID}}
	}
	// first reports whether a is listed before b in the requested order.
	first := func(a, b listEntry) bool {
		if desc {
			return b.before(a)
		}
		return a.before(b)
	}
	m := l.Filter.matcher()
	h := &pageHeap{first: first}
	var all []listEntry
	for _, d := range s.st.Devices() {
		if !m(d) {
			continue
		}
		e := entry(d, key)
		if after != nil && !first(*after, e) {
			continue
		}
		if l.Limit <= 0 {
			all = append(all, e)
			continue
		}
		// Keep the limit+1 first entries: the extra one says whether
		// there is a next page.
		if h.Len() <= l.Limit {
			heap.Push(h, e)
		} else if first(e, h.entries[0]) {
			h.entries[0] = e
			heap.Fix(h, 0)
		}
	}
	if l.Limit > 0 {
		all = h.entries
	}
	sortEntries(all, first)
	next := ""
	if l.Limit > 0 && len(all) > l.Limit {
		all = all[:l.Limit]
		last := all[len(all)-1]
		next = deviceCursor{Sort: order, Text: last.text, Time: last.time, ID: last.d.ID}.encode()
	}
	out := make([]*store.Device, len(all))
	for i, e := range all {
		out[i] = e.d
	}
	return out, next, nil
}

// matcher compiles the filter into one predicate.
func (f DeviceFilter) matcher() func(*store.Device) bool {
	q := strings.ToLower(strings.TrimSpace(f.Query))
	owner := strings.TrimSpace(f.Owner)
	serial := normalizeSerial(f.Serial)
	return func(d *store.Device) bool {
		switch {
		case f.State != "" && d.State != f.State,
			f.Ownership != "" && d.Ownership != f.Ownership,
			owner != "" && !mailaddr.EqualFold(d.OwnerEmail, owner),
			f.Serial != "" && normalizeSerial(d.Serial) != serial,
			f.Pending && !d.PendingApproval(),
			f.Platform != "" && !strings.EqualFold(d.Platform, f.Platform),
			f.Trust != nil && d.Trust != *f.Trust,
			f.Compliant != nil && d.Compliant != *f.Compliant,
			f.FailingCheck != "" && !hasString(d.FailingChecks, f.FailingCheck),
			f.Department != "" && !strings.EqualFold(d.Department, f.Department),
			!f.LastSeenBefore.IsZero() && !d.LastSeen.Before(f.LastSeenBefore),
			!f.LastSeenAfter.IsZero() && !d.LastSeen.After(f.LastSeenAfter),
			q != "" && !matchesQuery(d, q):
			return false
		}
		return true
	}
}

// matchesQuery reports whether a lower-case query is a substring of the
// device's hostname, serial, owner e-mail, id or name, ignoring case.
func matchesQuery(d *store.Device, q string) bool {
	return containsFold(d.Hostname, q) || containsFold(d.Serial, q) || containsFold(d.OwnerEmail, q) ||
		containsFold(d.ID, q) || containsFold(d.Name, q)
}

// containsFold reports whether lower (already lower case) is a substring of
// s ignoring case. ASCII text is compared in place, without allocating;
// other text is lowered first.
func containsFold(s, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	if n > len(s) {
		return false
	}
	if !isASCII(lower) || !isASCII(s) {
		return strings.Contains(strings.ToLower(s), lower)
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasString(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

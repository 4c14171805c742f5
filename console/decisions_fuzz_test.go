package console

import (
	"errors"
	"net/url"
	"testing"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// FuzzParseDecisionQuery: any query string either parses into a query
// whose cursor and limit are in range, or is refused as a 400 naming a
// parameter; it never panics.
func FuzzParseDecisionQuery(f *testing.F) {
	for _, s := range []string{"", "since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z", "user=ann@example.com&outcome=deny&report_only=true",
		"cursor=ab12.3&limit=5", "limit=0", "cursor=zz", "outcome=maybe", "report_only=yes", "x=1", "user=a&user=b", "cursor=-1.-1", "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseDecisionQuery(v)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || ae.Field == "" {
				t.Fatalf("%q: error %v is not a 400 naming a parameter", raw, err)
			}
			return
		}
		if q.PageLimit() < 1 || q.PageLimit() > store.MaxDecisionPage {
			t.Fatalf("%q: limit %d", raw, q.PageLimit())
		}
		if !q.After.IsZero() {
			c, err := store.ParseDecisionCursor(q.After.String())
			if err != nil || c != q.After {
				t.Fatalf("%q: cursor %+v does not round-trip", raw, q.After)
			}
		}
		if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
			t.Fatalf("%q: an empty window was accepted", raw)
		}
	})
}

func TestParseDecisionQueryErrorsNameTheParameter(t *testing.T) {
	for raw, field := range map[string]string{"since=yesterday": "since", "until=2026": "until", "outcome=maybe": "outcome",
		"report_only=yes": "report_only", "limit=1001": "limit", "limit=x": "limit", "cursor=nope": "cursor", "colour=red": "colour",
		"user=a&user=b": "user", "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z": "until"} {
		v, _ := url.ParseQuery(raw)
		_, err := ParseDecisionQuery(v)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Field != field || apperr.Status(err) != 400 {
			t.Errorf("%s: got %v, want a 400 naming %s", raw, err, field)
		}
	}
}

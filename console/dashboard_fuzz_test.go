package console

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
)

// FuzzParseKPIQuery: any query string either is refused as a 400 naming
// a field, or gives a range of 1 to 366 whole UTC days and at most one
// series.
func FuzzParseKPIQuery(f *testing.F) {
	for _, s := range []string{"", "since=2026-01-01&until=2026-02-01", "department=it", "platform=linux&group=x",
		"since=2026-12-01T10:00:00%2B02:00", "until=1999-01-01", "since=9999-12-31", "wave=%00"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseKPIQuery(v, now, 30)
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || apperr.Status(err) != http.StatusBadRequest || e.Field == "" {
				t.Fatalf("%q: %v is not a 400 naming a field", raw, err)
			}
			return
		}
		days := q.Until.Sub(q.Since).Hours() / 24
		if q.Since.After(q.Until) || days >= maxKPIDays || q.Since.Hour() != 0 || q.Until.Location() != time.UTC {
			t.Fatalf("%q: range %v – %v", raw, q.Since, q.Until)
		}
	})
}

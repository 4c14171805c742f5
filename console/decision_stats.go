package console

import (
	"context"
	"net/url"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// statsWindows are the windows the statistics take as ?window=, ending now.
var statsWindows = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// statsParams are the query parameters of the statistics (API and page).
var statsParams = map[string]bool{"since": true, "until": true, "window": true, "route": true, "user": true,
	"device": true, "bucket": true}

// StatsRequest is what the decision statistics sum: the records of Q (a
// window and the explorer's user, device and route filters) with rule
// hits per Bucket (an hour or a day).
type StatsRequest struct {
	Q      store.DecisionQuery
	Bucket time.Duration
	// Window is the ?window= given (24h, 7d or 30d), "" when the window
	// came from since and until.
	Window string
}

// BucketName is "hour" or "day".
func (r StatsRequest) BucketName() string {
	if r.Bucket > time.Hour {
		return "day"
	}
	return "hour"
}

// ParseStatsQuery reads the statistics' parameters: window (24h, 7d or
// 30d, ending now) or since and until (RFC 3339; by default the 24 hours
// before until, which defaults to now), route, user, device, and bucket
// (hour or day; by default hour up to 7 days, day beyond). An error names
// the parameter at fault.
func ParseStatsQuery(v url.Values, now time.Time) (StatsRequest, error) {
	var req StatsRequest
	for k := range v {
		if k == "" {
			return req, apperr.Field("query", "a parameter has no name")
		}
		if !statsParams[k] {
			return req, apperr.Field(k, "unknown parameter %q (stats take since, until, window, route, user, device and bucket)", k)
		}
	}
	rest := url.Values{}
	for k, vals := range v {
		if k != "window" {
			rest[k] = vals
		}
	}
	q, err := ParseDecisionQuery(rest)
	if err != nil {
		return req, err
	}
	q.Limit = 0
	if w := v["window"]; len(w) > 0 {
		d, ok := statsWindows[w[0]]
		if len(w) > 1 || !ok {
			return req, apperr.Field("window", "window must be 24h, 7d or 30d")
		}
		if v.Has("since") || v.Has("until") {
			return req, apperr.Field("window", "give either window or since and until")
		}
		req.Window = w[0]
		q.Until = now.UTC()
		q.Since = q.Until.Add(-d)
	}
	if q.Until.IsZero() {
		q.Until = now.UTC()
	}
	if q.Since.IsZero() {
		q.Since = q.Until.Add(-defaultStatsWindow)
	}
	if !q.Since.Before(q.Until) {
		return req, apperr.Field("since", "since must be before until")
	}
	req.Bucket = time.Hour
	switch v.Get("bucket") {
	case "":
		if q.Until.Sub(q.Since) > 7*24*time.Hour {
			req.Bucket = 24 * time.Hour
		}
	case "hour":
	case "day":
		req.Bucket = 24 * time.Hour
	default:
		return req, apperr.Field("bucket", "bucket must be hour or day")
	}
	req.Q = q
	return req, nil
}

// statsFor parses v (ParseStatsQuery) and sums the records it selects:
// the API's answer and the page's numbers come from here.
func (c *Console) statsFor(ctx context.Context, v url.Values) (StatsRequest, *store.DecisionStats, error) {
	req, err := ParseStatsQuery(v, c.now())
	if err != nil {
		return req, nil, err
	}
	dl, err := c.decisionLog()
	if err != nil {
		return req, nil, err
	}
	st, err := store.ComputeDecisionStats(ctx, dl, req.Q, req.Bucket)
	return req, st, err
}

// filledValues is v without the parameters whose first value is empty:
// an empty form field filters nothing.
func filledValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vals := range v {
		if len(vals) > 0 && vals[0] != "" {
			out[k] = vals
		}
	}
	return out
}

package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/kpi"
	"github.com/portier/portier/store"
)

// kpiDimensions are the dashboard's filters, in order: at most one at a
// time, since snapshots are kept per dimension value.
var kpiDimensions = []string{store.DimDepartment, store.DimGroup, store.DimPlatform, store.DimOwnership, store.DimWave}

// maxKPIDays bounds the days one board or history answer covers.
const maxKPIDays = 366

// parseKPIQuery reads since, until (YYYY-MM-DD or RFC 3339; until
// defaults to today and since to days-1 before it) and at most one
// dimension filter.
func parseKPIQuery(v url.Values, now time.Time, days int) (kpi.Query, error) {
	q := kpi.Query{Until: store.Day(now)}
	for _, f := range []struct {
		name string
		to   *time.Time
	}{{"until", &q.Until}, {"since", &q.Since}} {
		s := strings.TrimSpace(v.Get(f.name))
		if s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, s); err != nil {
				return q, apperr.Field(f.name, "%s must be a date (YYYY-MM-DD) or an RFC 3339 time", f.name)
			}
		}
		*f.to = store.Day(t)
	}
	if q.Since.IsZero() {
		q.Since = q.Until.AddDate(0, 0, -(days - 1))
	}
	if q.Since.After(q.Until) {
		return q, apperr.Field("since", "since must not be after until")
	}
	if q.Until.Sub(q.Since) >= maxKPIDays*24*time.Hour {
		return q, apperr.Field("since", "a range covers at most %d days", maxKPIDays)
	}
	for _, d := range kpiDimensions {
		val := strings.TrimSpace(v.Get(d))
		if val == "" {
			continue
		}
		if q.Series.Dimension != "" {
			return q, apperr.Field(d, "filter by one of %s at a time", strings.Join(kpiDimensions, ", "))
		}
		q.Series = kpi.Series{Dimension: d, Value: val}
	}
	return q, nil
}

// kpiBoard is the one code path of the dashboard and its API: the board
// for q from the stored snapshots.
func (c *Console) kpiBoard(ctx context.Context, q kpi.Query) (*kpi.Board, error) {
	l, err := c.opts.Store.KPISnapshots()
	if err != nil {
		return nil, apperr.Wrap(apperr.Unavailable, err, "this server keeps no KPI history")
	}
	return kpi.Load(ctx, l, q)
}

// kpiHistory is GET /api/v1/kpis/history: the daily snapshots of one
// series (the whole fleet, or ?department=, group, platform, ownership or
// wave) from since to until, with each figure's value, target and trend.
func (c *Console) kpiHistory(g *gin.Context) {
	q, err := parseKPIQuery(g.Request.URL.Query(), c.now(), 30)
	if err != nil {
		c.fail(g, err)
		return
	}
	b, err := c.kpiBoard(g.Request.Context(), q)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, b)
}

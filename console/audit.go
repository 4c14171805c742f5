package console

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// defaultAuditPage is the page size of GET /api/v1/audit without ?limit=.
const defaultAuditPage = 100

// auditQuery reads the filters and the cursor of the audit endpoints:
// since, until (RFC 3339), actor, action (exact, or a prefix ending in "."
// or "*"), target, order (desc, the default, or asc), limit and cursor.
func auditQuery(g *gin.Context) (store.AuditQuery, error) {
	q := store.AuditQuery{
		Actor:  g.Query("actor"),
		Action: g.Query("action"),
		Target: g.Query("target"),
		Limit:  defaultAuditPage,
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := g.Query(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return q, apperr.Field(f.name, "%s must be an RFC 3339 time such as 2026-01-31T00:00:00Z", f.name)
			}
			*f.dst = t
		}
	}
	switch g.DefaultQuery("order", "desc") {
	case "desc":
	case "asc":
		q.Ascending = true
	default:
		return q, apperr.Field("order", "order must be asc or desc")
	}
	if v := g.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditPage {
			return q, apperr.Field("limit", "limit must be a number from 1 to %d", store.MaxAuditPage)
		}
		q.Limit = n
	}
	if v := g.Query("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil || n == 0 {
			return q, apperr.Field("cursor", "cursor must be a next_cursor this API returned")
		}
		q.After = n
	}
	return q, nil
}

// listAudit answers one page of the audit log, newest first unless
// ?order=asc, with next_cursor set when more events match.
func (c *Console) listAudit(g *gin.Context) {
	q, err := auditQuery(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	ctx := g.Request.Context()
	events, err := c.opts.Store.QueryAudit(ctx, q)
	if err != nil {
		c.fail(g, err)
		return
	}
	next := ""
	if len(events) == q.PageLimit() {
		// Only promise another page when there is one.
		probe := q
		probe.After, probe.Limit = events[len(events)-1].Pos, 1
		more, err := c.opts.Store.QueryAudit(ctx, probe)
		if err != nil {
			c.fail(g, err)
			return
		}
		if len(more) > 0 {
			next = strconv.FormatUint(probe.After, 10)
		}
	}
	if events == nil {
		events = []*store.AuditEvent{}
	}
	g.JSON(http.StatusOK, gin.H{"events": events, "next_cursor": next})
}

// auditChain answers where the hash chain starts and ends, for
// `portier audit verify`.
func (c *Console) auditChain(g *gin.Context) {
	ch, err := c.opts.Store.AuditChain(g.Request.Context())
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"anchor": ch.Anchor, "head": ch.Head})
}

// csvColumns are the columns of the CSV export, in order.
var csvColumns = []string{"seq", "id", "at", "actor", "action", "target", "remote_ip", "detail", "prev", "hash"}

// exportAudit streams every event matching the filters, oldest first, as
// CSV or JSON lines (one event per line, exactly as the API returns them, so
// the chain can be checked from the file). The export is itself audited,
// before anything is sent.
func (c *Console) exportAudit(g *gin.Context) {
	q, err := auditQuery(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	format := g.DefaultQuery("format", "jsonl")
	if format != "jsonl" && format != "csv" {
		c.fail(g, apperr.Field("format", "format must be csv or jsonl"))
		return
	}
	q.Ascending, q.Limit = true, store.MaxAuditPage
	ctx := g.Request.Context()
	detail := map[string]string{"format": format}
	for _, k := range []string{"since", "until", "actor", "action", "target"} {
		if v := g.Query(k); v != "" {
			detail[k] = v
		}
	}
	x, ok := c.startExport(g, c.fail, "audit.export", "audit", format, detail, csvColumns)
	if !ok {
		return
	}
	defer x.flush()
	for {
		page, err := c.opts.Store.QueryAudit(ctx, q)
		if err != nil {
			// The status line is sent: end the body short. A reader sees
			// the export end without the last events; the log says why.
			c.opts.Log.Error("console: audit export stopped", "err", err)
			return
		}
		for _, ev := range page {
			if err := x.write(ev, func() []string { return csvRow(ev) }); err != nil {
				return
			}
		}
		if len(page) < q.Limit {
			return
		}
		q.After = page[len(page)-1].Pos
	}
}

// csvRow is one event as CSV cells, defused (actors and targets can hold
// text an attacker chose).
func csvRow(ev *store.AuditEvent) []string {
	detail := ""
	if len(ev.Detail) > 0 {
		b, _ := json.Marshal(ev.Detail)
		detail = string(b)
	}
	row := []string{strconv.FormatUint(ev.Seq, 10), ev.ID, ev.At.UTC().Format(time.RFC3339Nano), ev.Actor, ev.Action,
		ev.Target, ev.RemoteIP, detail, ev.Prev, ev.Hash}
	return defuseCSV(row)
}

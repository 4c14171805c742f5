package console

import (
	"encoding/csv"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// export is one audited download being written: CSV (cells defused by
// the caller's row function, see defuseCSV) or JSON lines.
type export struct {
	format string // "csv" or "jsonl"
	csv    *csv.Writer
	json   *json.Encoder
	rows   int
}

// startExport audits an export (action, with the filters in detail) and,
// once that is durable, starts the attachment "portier-<name>-<time>.<format>"
// and its CSV header row. When the audit cannot be written it fails the
// request with fail (nothing is sent) and returns false: an export of
// personal data is never sent unaudited.
func (c *Console) startExport(g *gin.Context, fail func(*gin.Context, error), action, name, format string,
	detail map[string]string, columns []string) (*export, bool) {
	if err := c.opts.Store.Write(g.Request.Context(), c.audit(g, action, "", detail)); err != nil {
		fail(g, err)
		return nil, false
	}
	file := "portier-" + name + "-" + c.now().UTC().Format("20060102T150405Z") + "." + format
	g.Header("Content-Disposition", `attachment; filename="`+file+`"`)
	g.Header("Cache-Control", "no-store")
	if format == "csv" {
		g.Header("Content-Type", "text/csv; charset=utf-8")
	} else {
		g.Header("Content-Type", "application/x-ndjson")
	}
	g.Status(http.StatusOK)
	x := &export{format: format, csv: csv.NewWriter(g.Writer), json: json.NewEncoder(g.Writer)}
	if format == "csv" {
		_ = x.csv.Write(columns)
	}
	return x, true
}

// write sends one item: row()'s cells as a CSV line, or v as a JSON line.
// CSV is flushed every 500 rows, so a long export streams.
func (x *export) write(v any, row func() []string) error {
	if x.format != "csv" {
		return x.json.Encode(v)
	}
	if err := x.csv.Write(row()); err != nil {
		return err
	}
	if x.rows++; x.rows%500 == 0 {
		x.csv.Flush()
	}
	return x.csv.Error()
}

// flush sends what the CSV writer holds; call it when the export ends.
func (x *export) flush() { x.csv.Flush() }

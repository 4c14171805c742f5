package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
)

// devicePageSize is how many devices the devices page shows at once.
const devicePageSize = 50

// devicesView is the devices page: the filters as asked, one page of
// devices, and the links to the next page and to the CSV export.
type devicesView struct {
	Query   url.Values
	Devices []deviceSummary
	Next    string
	Export  string
	// Bulk is the "act on the filtered devices" form (nil for a role that
	// acts on no device).
	Bulk *bulkForm
}

// Get is the value of a filter as asked, for the form.
func (v devicesView) Get(name string) string { return v.Query.Get(name) }

// devicesPage is GET /devices: the device inventory with the search,
// filters, sort and cursor of GET /api/v1/devices, 50 devices a page.
func (c *Console) devicesPage(g *gin.Context) {
	l, err := deviceList(g, devicePageSize)
	if err != nil {
		c.failPage(g, err)
		return
	}
	l.Limit = min(l.Limit, devicePageSize)
	devs, next, err := c.opts.Enrollment.ListDevices(l)
	if err != nil {
		c.failPage(g, listError(err))
		return
	}
	q := g.Request.URL.Query()
	notice := ""
	if n, err := strconv.Atoi(q.Get("bulk_done")); err == nil {
		notice = c.t(g, "bulk.done", n)
	}
	q.Del("bulk_done")
	v := devicesView{Query: q, Bulk: bulkFormFor(g, q)}
	for _, d := range devs {
		v.Devices = append(v.Devices, summarize(d))
	}
	if next != "" {
		nq := cloneValues(q)
		nq.Set("cursor", next)
		v.Next = "/devices?" + nq.Encode()
	}
	eq := cloneValues(q)
	eq.Del("cursor")
	eq.Del("limit")
	eq.Set("format", "csv")
	v.Export = "/devices/export?" + eq.Encode()
	c.render(g, http.StatusOK, "inventory", &ui.Page{TitleKey: "title.inventory", Notice: notice, Data: v})
}

// exportDevicesPage is GET /devices/export: the CSV export of the devices
// page, for a browser session.
func (c *Console) exportDevicesPage(g *gin.Context) { c.writeDevicesCSV(g, c.failPage) }

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Trusts are the trust levels the filter offers.
func (devicesView) Trusts() []string { return []string{"untrusted", "low", "medium", "high"} }

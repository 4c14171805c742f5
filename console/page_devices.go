package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/enrollment"
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
	// acts on no device); StepUp links to a security-key check when the
	// form was refused for an old one.
	Bulk   *bulkForm
	StepUp string
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
	q := g.Request.URL.Query()
	p := &ui.Page{}
	if n, err := strconv.Atoi(q.Get("bulk_done")); err == nil {
		p.Notice = c.t(g, "bulk.done", n)
	}
	q.Del("bulk_done")
	c.renderDevices(g, http.StatusOK, l, q, p, "")
}

// renderDevices renders the devices page for the list l asked by q, with
// p's error or notice and, when stepUp is set, the link to confirm with a
// security key.
func (c *Console) renderDevices(g *gin.Context, status int, l enrollment.DeviceList, q url.Values, p *ui.Page, stepUp string) {
	l.Limit = min(l.Limit, devicePageSize)
	devs, next, err := c.opts.Enrollment.ListDevices(l)
	if err != nil {
		c.failPage(g, listError(err))
		return
	}
	v := devicesView{Query: q, Bulk: bulkFormFor(g, q), StepUp: stepUp}
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
	p.TitleKey, p.Data = "title.inventory", v
	c.render(g, status, "inventory", p)
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

package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/store"
)

// inventoryDimensions are the counts of the inventory, in the order the
// page and the export show them: the deployment guide's phase 1 audit.
var inventoryDimensions = []string{"platform", "os", "model", "department", "ownership"}

// unknownValue counts the devices that did not say (no model, no
// department).
const unknownValue = "(unknown)"

// inventoryCount is how many devices have one value of a dimension.
type inventoryCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// inventoryCounts is the fleet counted by type, OS, model, department and
// ownership.
type inventoryCounts struct {
	Total int `json:"total"`
	// By maps each dimension to its values, most devices first.
	By map[string][]inventoryCount `json:"by"`
}

// dimensionValue is a device's value of a dimension.
func dimensionValue(d *store.Device, dim string) string {
	v := ""
	switch dim {
	case "platform":
		v = d.Platform
	case "os":
		v = strings.TrimSpace(d.Platform + " " + d.OSVersion)
	case "model":
		v = d.Model
	case "department":
		v = d.Department
	case "ownership":
		v = string(d.Ownership)
	}
	if v == "" {
		return unknownValue
	}
	return v
}

// countInventory counts the devices the filters of the device list select
// (in service when no state is asked: retired and wiped devices left the
// fleet).
func (c *Console) countInventory(g *gin.Context) (inventoryCounts, error) {
	f, err := deviceFilter(g)
	if err != nil {
		return inventoryCounts{}, err
	}
	tally := map[string]map[string]int{}
	for _, dim := range inventoryDimensions {
		tally[dim] = map[string]int{}
	}
	out := inventoryCounts{By: map[string][]inventoryCount{}}
	for _, d := range c.opts.Enrollment.Devices(f) {
		if f.State == "" && (d.State == store.DeviceRetired || d.State == store.DeviceWiped) {
			continue
		}
		out.Total++
		for _, dim := range inventoryDimensions {
			tally[dim][dimensionValue(d, dim)]++
		}
	}
	for _, dim := range inventoryDimensions {
		counts := []inventoryCount{}
		for v, n := range tally[dim] {
			counts = append(counts, inventoryCount{Value: v, Count: n})
		}
		sort.Slice(counts, func(i, j int) bool {
			if counts[i].Count != counts[j].Count {
				return counts[i].Count > counts[j].Count
			}
			return counts[i].Value < counts[j].Value
		})
		out.By[dim] = counts
	}
	return out, nil
}

// inventory is GET /api/v1/inventory: the fleet counted by platform, OS
// and version, model, department and ownership, with the filters of the
// device list.
func (c *Console) inventory(g *gin.Context) {
	n, err := c.countInventory(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, n)
}

// exportInventory is GET /api/v1/inventory/export?format=csv: the counts
// as CSV rows dimension,value,count (audited, as every export).
func (c *Console) exportInventory(g *gin.Context) { c.writeInventoryCSV(g, c.fail) }

// exportInventoryPage is GET /inventory/export, the page's download.
func (c *Console) exportInventoryPage(g *gin.Context) { c.writeInventoryCSV(g, c.failPage) }

// writeInventoryCSV is the inventory export for the API and the page.
func (c *Console) writeInventoryCSV(g *gin.Context, fail func(*gin.Context, error)) {
	if f := g.DefaultQuery("format", "csv"); f != "csv" {
		fail(g, apperr.Field("format", "format must be csv"))
		return
	}
	n, err := c.countInventory(g)
	if err != nil {
		fail(g, err)
		return
	}
	detail := exportDetail(g)
	x, ok := c.startExport(g, fail, "inventory.export", "inventory", "csv", detail, []string{"dimension", "value", "count"})
	if !ok {
		return
	}
	defer x.flush()
	if x.write(nil, func() []string { return []string{"total", "", strconv.Itoa(n.Total)} }) != nil {
		return
	}
	for _, dim := range inventoryDimensions {
		for _, v := range n.By[dim] {
			if x.write(v, func() []string { return defuseCSV([]string{dim, v.Value, strconv.Itoa(v.Count)}) }) != nil {
				return
			}
		}
	}
}

// inventoryView is the inventory page: the counts and the export link with
// the same filters.
type inventoryView struct {
	Counts     inventoryCounts
	Dimensions []string
	Export     string
	Department string
	Platform   string
}

// Link is the devices page filtered on one value of a dimension, "" for
// a dimension the device list does not filter on (or an unknown value).
func (inventoryView) Link(dim, value string) string {
	switch {
	case value == unknownValue:
		return ""
	case dim == "platform" || dim == "department" || dim == "ownership":
		return "/devices?" + url.Values{dim: {value}}.Encode()
	}
	return ""
}

// inventoryPage is GET /inventory: the counts as tables, one per
// dimension, each value linking to the devices page filtered on it where
// the device list has that filter.
func (c *Console) inventoryPage(g *gin.Context) {
	n, err := c.countInventory(g)
	if err != nil {
		c.failPage(g, err)
		return
	}
	q := cloneValues(g.Request.URL.Query())
	q.Set("format", "csv")
	v := inventoryView{Counts: n, Dimensions: inventoryDimensions, Export: "/inventory/export?" + q.Encode(),
		Department: g.Query("department"), Platform: g.Query("platform")}
	c.render(g, http.StatusOK, "inventory_counts", &ui.Page{TitleKey: "title.inventory_counts", Data: v})
}

package console

import (
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
)

// costInputs are the cost view's inputs: the config's report section,
// overridden by the page form's query parameters for a what-if.
type costInputs struct {
	Currency string
	Initial  float64
	Licences float64
	Hosting  float64
	Savings  []savingLine // by category name
}

// savingLine is one category of yearly savings.
type savingLine struct {
	Category string  `json:"category"`
	Amount   float64 `json:"amount"`
}

// reportCost is the cost view: the inputs, the totals, the cost per
// device and the three-year return on investment, each with its formula
// filled in with the numbers.
type reportCost struct {
	Currency      string       `json:"currency"`
	Initial       float64      `json:"initial_cost"`
	Licences      float64      `json:"yearly_licences"`
	Hosting       float64      `json:"yearly_hosting"`
	Savings       []savingLine `json:"savings"`
	YearlyCosts   float64      `json:"yearly_costs"`
	YearlySavings float64      `json:"yearly_savings"`
	ThreeYearCost float64      `json:"three_year_cost"`
	Devices       int          `json:"devices"`
	// PerDevice is the yearly cost per device: the three-year cost over
	// three years and the devices at the period's end (Known false when
	// there are none).
	PerDevice        float64 `json:"cost_per_device_per_year"`
	PerDeviceKnown   bool    `json:"cost_per_device_known"`
	PerDeviceFormula string  `json:"cost_per_device_formula"`
	// ROI is (3 × yearly savings − three-year cost) / three-year cost
	// (Known false when the cost is 0).
	ROI        float64 `json:"roi"`
	ROIKnown   bool    `json:"roi_known"`
	ROIFormula string  `json:"roi_formula"`
}

// ROIFormula and PerDeviceFormula are the cost view's formulas in words.
const (
	ROIFormula       = "(3 × yearly savings − (initial + 3 × yearly costs)) / (initial + 3 × yearly costs)"
	PerDeviceFormula = "(initial + 3 × yearly costs) / 3 / devices"
)

// costInputsOf starts from the config's report section and applies the
// query's overrides: currency, initial_cost, yearly_licences,
// yearly_hosting and savings.<category>. A malformed value is a 400
// naming its parameter.
func costInputsOf(rc config.Report, q url.Values) (costInputs, error) {
	in := costInputs{Currency: rc.CurrencyOrDefault(), Initial: rc.InitialCost, Licences: rc.YearlyLicences, Hosting: rc.YearlyHosting}
	if v := q.Get("currency"); v != "" {
		if !config.ValidCurrency(v) {
			return in, apperr.Field("currency", "currency is a three-letter code such as EUR")
		}
		in.Currency = v
	}
	for name, dst := range map[string]*float64{"initial_cost": &in.Initial, "yearly_licences": &in.Licences, "yearly_hosting": &in.Hosting} {
		if err := amountParam(q, name, dst); err != nil {
			return in, err
		}
	}
	savings := map[string]float64{}
	for k, v := range rc.Savings {
		savings[k] = v
	}
	for k := range q {
		cat, ok := strings.CutPrefix(k, "savings.")
		if !ok {
			continue
		}
		if !config.ValidSavingsCategory(cat) {
			return in, apperr.Field(k, "%s: a savings category is lower-case letters, digits or _ (up to 40)", k)
		}
		v := savings[cat]
		if err := amountParam(q, k, &v); err != nil {
			return in, err
		}
		savings[cat] = v
	}
	for k, v := range savings {
		in.Savings = append(in.Savings, savingLine{k, v})
	}
	sort.Slice(in.Savings, func(i, j int) bool { return in.Savings[i].Category < in.Savings[j].Category })
	return in, nil
}

// amountParam reads q[name] into dst when it is set and not empty.
func amountParam(q url.Values, name string, dst *float64) error {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
	if err != nil || !config.ValidAmount(v) || v > 1e15 {
		return apperr.Field(name, "%s is an amount of at least 0", name)
	}
	*dst = v
	return nil
}

// computeCost fills in the cost view for devices at the period's end.
func computeCost(in costInputs, devices int) reportCost {
	c := reportCost{Currency: in.Currency, Initial: in.Initial, Licences: in.Licences, Hosting: in.Hosting, Savings: in.Savings, Devices: devices}
	if c.Savings == nil {
		c.Savings = []savingLine{}
	}
	c.YearlyCosts = in.Licences + in.Hosting
	for _, s := range in.Savings {
		c.YearlySavings += s.Amount
	}
	c.ThreeYearCost = in.Initial + 3*c.YearlyCosts
	if devices > 0 {
		c.PerDevice, c.PerDeviceKnown = c.ThreeYearCost/3/float64(devices), true
		c.PerDeviceFormula = "(" + num(in.Initial) + " + 3 × " + num(c.YearlyCosts) + ") / 3 / " + strconv.Itoa(devices) + " = " + num(c.PerDevice)
	}
	if c.ThreeYearCost > 0 {
		c.ROI, c.ROIKnown = (3*c.YearlySavings-c.ThreeYearCost)/c.ThreeYearCost, true
		c.ROIFormula = "(3 × " + num(c.YearlySavings) + " − (" + num(in.Initial) + " + 3 × " + num(c.YearlyCosts) + ")) / (" +
			num(in.Initial) + " + 3 × " + num(c.YearlyCosts) + ") = " + num(c.ROI*100) + " %"
	}
	return c
}

// num writes an amount with at most two decimals.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

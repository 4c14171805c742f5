package config

import (
	"math"
	"regexp"
	"sort"
)

// Report holds the operator's cost inputs for the executive report's cost
// view (docs/dashboard.md): cost per device and three-year return on
// investment. Amounts are in Currency; the report page can override each
// one for a what-if.
type Report struct {
	// Currency is an ISO 4217 code such as EUR (default EUR).
	Currency string `yaml:"currency"`
	// InitialCost is the one-time cost of the rollout.
	InitialCost float64 `yaml:"initial_cost"`
	// YearlyLicences and YearlyHosting are the recurring costs per year.
	YearlyLicences float64 `yaml:"yearly_licences"`
	YearlyHosting  float64 `yaml:"yearly_hosting"`
	// Savings are the yearly savings by category (for example
	// helpdesk_hours or lost_devices).
	Savings map[string]float64 `yaml:"savings"`
}

// DefaultCurrency is the report's currency when none is set.
const DefaultCurrency = "EUR"

var (
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	categoryRe = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)
)

// ValidCurrency reports whether s is a three-letter currency code.
func ValidCurrency(s string) bool { return currencyRe.MatchString(s) }

// ValidSavingsCategory reports whether s can name a savings category:
// 1 to 40 lower-case letters, digits or underscores.
func ValidSavingsCategory(s string) bool { return categoryRe.MatchString(s) }

// ValidAmount reports whether v is a usable amount: finite, at least 0.
func ValidAmount(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }

// CurrencyOrDefault is Currency, or DefaultCurrency when unset.
func (r Report) CurrencyOrDefault() string {
	if r.Currency == "" {
		return DefaultCurrency
	}
	return r.Currency
}

// validateReport checks the report section.
func (c *Config) validateReport() error {
	r := c.Report
	if r.Currency != "" && !ValidCurrency(r.Currency) {
		return c.errAt("report.currency must be a three-letter code such as EUR (got %q)", []any{"report", "currency"}, r.Currency)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"initial_cost", r.InitialCost}, {"yearly_licences", r.YearlyLicences}, {"yearly_hosting", r.YearlyHosting}} {
		if !ValidAmount(f.v) {
			return c.errAt("report.%s must be an amount of at least 0", []any{"report", f.name}, f.name)
		}
	}
	cats := make([]string, 0, len(r.Savings))
	for k := range r.Savings {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	for _, k := range cats {
		if !ValidSavingsCategory(k) {
			return c.errAt("report.savings: category %q must be lower-case letters, digits or _ (up to 40)", []any{"report", "savings"}, k)
		}
		if !ValidAmount(r.Savings[k]) {
			return c.errAt("report.savings.%s must be an amount of at least 0", []any{"report", "savings", k}, k)
		}
	}
	return nil
}

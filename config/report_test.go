package config

import (
	"strings"
	"testing"
)

// TestReportSection: the report section is read, and a bad currency,
// amount or category is refused naming report.… and its line.
func TestReportSection(t *testing.T) {
	base := "external_url: https://portier.localhost:8443\n"
	cfg, err := Parse("c.yaml", []byte(base+"report: {currency: CHF, initial_cost: 50000, yearly_licences: 12000, yearly_hosting: 3000, savings: {helpdesk_hours: 20000, lost_devices: 8000}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Report
	if r.CurrencyOrDefault() != "CHF" || r.InitialCost != 50000 || r.YearlyLicences != 12000 || r.YearlyHosting != 3000 || r.Savings["lost_devices"] != 8000 {
		t.Fatalf("report = %+v", r)
	}
	if (Report{}).CurrencyOrDefault() != "EUR" {
		t.Error("default currency is not EUR")
	}
	for _, bad := range []string{"report: {currency: euro}", "report: {initial_cost: -1}", "report: {yearly_hosting: .nan}",
		"report: {savings: {Bad-Name: 3}}", "report: {savings: {ok: -3}}"} {
		cfg, err := Parse("c.yaml", []byte(base+bad+"\n"))
		if err == nil {
			cfg.ApplyDefaults()
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "report.") || !strings.Contains(err.Error(), "c.yaml:2") {
			t.Errorf("%s: got %v, want an error naming report at line 2", bad, err)
		}
	}
}

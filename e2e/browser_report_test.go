package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// reportConfig adds the executive report's cost inputs to the console
// site's config.
const reportConfig = consoleConfig + `
report:
  currency: EUR
  initial_cost: 30000
  yearly_licences: 9000
  yearly_hosting: 1000
  savings: {helpdesk: 20000, lost_devices: 5000}
`

// TestBrowserReport: three devices enroll with the real agent and the
// day's KPI snapshot is taken; an administrator opens the executive
// report of the current month in real Chromium and sees the KPI table
// (three managed devices, the compliance target), the fleet, and the
// three-year ROI with its formula filled in from the config's inputs;
// a what-if without initial cost recomputes it.
func TestBrowserReport(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, reportConfig)
	s.addUser("adm@example.com", "correct horse battery", "staff")
	s.setRole("adm@example.com", "admin")
	ctx := context.Background()
	const secret = "an-owner-token-for-the-report-test"
	w := ownerWorld(t, s, secret)
	enrollAgents(t, s, w, w.browser(nil), secret, 3)
	if _, err := s.srv.TakeKPISnapshot(ctx); err != nil {
		t.Fatal(err)
	}

	b := s.newTab(exe)
	b.open(s.console() + "/report")
	b.signIn("adm@example.com", "correct horse battery")
	b.waitAt(s.console() + "/report")
	b.keyCheck(s, "/report")
	b.wantText("h1", "Executive report")
	b.wantText("header nav", "Report")
	b.wantText("#report-period", time.Now().UTC().Format("2006-01"))
	b.wantText("#report-kpi-devices", "Managed devices", "3")
	b.wantText("#report-kpi-compliance_rate", "Compliance rate", "at least 90 %")
	b.wantText("#report-growth", "3 managed devices")
	b.wantText("#report-roi", "25 %")
	b.wantText("#report-per-device", "6666.67 EUR")
	b.wantText("#report-cost", "ROI = (3 × yearly savings − (initial + 3 × yearly costs)) / (initial + 3 × yearly costs)",
		"(3 × 25000 − (30000 + 3 × 10000)) / (30000 + 3 × 10000) = 25 %")
	b.docScreenshot("report.png")
	b.do("what if the rollout cost nothing up front",
		chromedp.SetValue(chromedp.CSS(`input[name=initial_cost]`), "0"),
		chromedp.Click(chromedp.CSS(`form.report-form button[type=submit]`)),
	)
	b.waitUntil("the what-if report", `location.search.includes("initial_cost=0")`)
	b.wantText("#report-roi", "150 %")
	if st, body := w.apiCall(w.browser(nil), secret, "GET", "/api/v1/report?format=csv", ""); st != http.StatusOK || !strings.Contains(body, "kpi,devices,end,3,") {
		t.Errorf("CSV export = %d:\n%s", st, body)
	}
}

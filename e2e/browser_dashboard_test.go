package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/agent"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// TestBrowserDashboard: three devices enroll with the real agent and
// report their posture; once the day's KPI snapshot is taken, an
// administrator signs in in real Chromium, confirms with a security key
// and opens the dashboard: three managed devices, the compliance rate the
// API computes, a drawn trend, and the linux platform as a filter that
// shows the same three devices.
func TestBrowserDashboard(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	s.addUser("adm@example.com", "correct horse battery", "staff")
	s.setRole("adm@example.com", "admin")
	ctx := context.Background()
	const secret = "an-owner-token-for-the-dashboard-test"
	w := ownerWorld(t, s, secret)
	c := w.browser(nil)
	enrollAgents(t, s, w, c, secret, 3)
	if _, err := s.srv.TakeKPISnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	compliant := 0
	for _, d := range s.srv.Store().Devices() {
		if d.Compliant {
			compliant++
		}
	}
	rate := fmt.Sprintf("%v %%", float64(compliant*1000/3)/10)

	b := s.newTab(exe)
	b.open(s.console() + "/dashboard")
	b.signIn("adm@example.com", "correct horse battery")
	b.waitAt(s.console() + "/dashboard")
	b.keyCheck(s, "/dashboard")
	b.wantText("h1", "Fleet dashboard")
	b.wantText("header nav", "Dashboard")
	b.wantText(`#kpi-devices .kpi-value`, "3")
	b.wantText(`#kpi-compliance_rate .kpi-value`, strings.Replace(rate, ".0 ", " ", 1))
	b.wantText(`#kpi-compliance_rate .kpi-target`, "at least 90 %")
	b.waitUntil("a drawn trend", `document.querySelector("#kpi-devices svg polyline.trend-line") !== null`)
	b.do("show the linux devices",
		chromedp.SetValue(chromedp.ID("filter"), "platform=linux"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
	)
	b.waitUntil("the linux series", `location.search.includes("filter=platform")`)
	b.wantText(`#kpi-devices .kpi-value`, "3")
	b.screenshot("dashboard.png")
}

// enrollAgents enrolls n devices with the real agent (codes created with
// the owner token secret) and sends each one's posture once.
func enrollAgents(t *testing.T, s *site, w *world, c *http.Client, secret string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		var code struct{ Code string }
		body := fmt.Sprintf(`{"ownership":"corporate","user":"user%d@example.com","ttl":"15m"}`, i)
		if st := w.api(c, secret, "POST", "/api/v1/enrollment/codes", body, &code); st != http.StatusCreated {
			t.Fatalf("create code = %d", st)
		}
		dir := t.TempDir()
		if _, err := agent.Enroll(ctx, agent.EnrollOptions{Server: s.console(), Code: code.Code, StateDir: dir,
			Fingerprint: s.srv.CA().Fingerprint(), Version: "1.0.0", Out: io.Discard}); err != nil {
			t.Fatalf("enroll %d: %v", i, err)
		}
		ag, err := agent.Open(agent.Options{StateDir: dir, Version: "1.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ag.SendPosture(ctx, false); err != nil {
			t.Fatalf("posture %d: %v", i, err)
		}
		ag.Close()
	}
}

// ownerWorld stores an owner API token with secret and returns the world
// to call the site's API with it.
func ownerWorld(t *testing.T, s *site, secret string) *world {
	t.Helper()
	if err := s.srv.Store().Write(context.Background(), store.Put(&store.Token{ID: "tok_owner", Role: "owner",
		SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, srv: s.srv, port: s.port}
}

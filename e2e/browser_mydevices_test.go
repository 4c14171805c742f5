package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/store"
)

// TestBrowserLostDeviceAndWhoViewed: in real Chromium, a help-desk member
// opens an employee's laptop page; the employee, on Your devices, sees
// that this person viewed the laptop's data, then reports it lost: the
// page says what will happen, the report says what was done; the laptop
// is quarantined at once, and the real agent, polling, receives the lock
// and runs it. Your devices then says why the laptop cannot open company
// apps.
func TestBrowserLostDeviceAndWhoViewed(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	const pw = "correct horse battery"
	s.addUser("ada@example.com", pw, "staff")
	s.addUser("hal@example.com", pw, "staff")
	s.setRole("hal@example.com", "helpdesk")
	ctx := context.Background()
	id, dir := enrollAgent(t, s, agentwire.DeviceInfo{Serial: "PF-ADA01", Hostname: "ada-laptop", Platform: "linux", Model: "ThinkPad T14", OSVersion: "24.04"})
	ag, run := reportingAgent(t, dir)

	hal := s.newTab(exe)
	hal.open(s.console() + "/devices")
	hal.signIn("hal@example.com", pw)
	hal.keyCheck(s, "/devices/"+id)
	hal.wantText("#identity", "PF-ADA01")

	ada := s.newTab(exe)
	ada.open(s.console() + "/my/devices")
	ada.signIn("ada@example.com", pw)
	ada.waitAt(s.console() + "/my/devices")
	ada.do("open who viewed", chromedp.Click(chromedp.CSS(`details.viewers summary`)))
	ada.wantText("details.viewers", "Who in IT viewed this device's data (1)", "hal@example.com")
	ada.docScreenshot("my-devices.png")

	ada.do("report it lost", chromedp.Click(chromedp.CSS(`a[href="/my/devices/`+id+`/lost"]`)))
	ada.waitAt(s.console() + "/my/devices/" + id + "/lost")
	ada.wantText("#lost-plan", "stop it from reaching any work application", "lock its screen", "tell IT")
	ada.do("confirm",
		chromedp.SendKeys(chromedp.ID("lost-note"), "left in a taxi at 18:00"),
		chromedp.Click(chromedp.CSS(`#lost-form button[type=submit]`)))
	ada.waitUntil("the report's answer", `document.getElementById("lost-done") !== null`)
	ada.wantText("#lost-done", "can no longer reach any work application", "IT have been told")
	ada.docScreenshot("lost-device.png")

	if d, ok := s.srv.Store().Device(id); !ok || d.State != store.DeviceQuarantined {
		t.Fatalf("the lost laptop is %+v, want quarantined", d)
	}
	acts, err := ag.PollActions(ctx, 0)
	if err != nil || len(acts) != 1 || acts[0].Type != agentwire.ActionLock {
		t.Fatalf("the agent's poll after the report: %v %+v", err, acts)
	}
	if err := ag.Execute(ctx, acts); err != nil {
		t.Fatalf("execute the lock: %v", err)
	}
	if len(run.ran) != 1 || !strings.Contains(run.ran[0], "lock") {
		t.Errorf("the agent ran %q, want its lock command", run.ran)
	}
	ada.open(s.console() + "/my/devices")
	ada.wantText("main", "This device is quarantined: it cannot open company apps")
}

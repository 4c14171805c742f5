package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/agent"
	"github.com/portier/portier/agentwire"
)

// lockRunner is the agent's command runner in a test: it records the
// commands instead of locking the machine the test runs on.
type lockRunner struct {
	mu  sync.Mutex
	ran []string
}

func (r *lockRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran = append(r.ran, strings.Join(append([]string{name}, args...), " "))
	return nil, nil
}

// TestBrowserDevicePageLock: in real Chromium, a help-desk member searches
// the devices page for a laptop a real agent enrolled over mutual TLS,
// opens its device page, locks it (after the security-key check the role
// needs), sees the lock queued; the agent polls, runs the lock and
// acknowledges it, and the device page shows it acknowledged with the
// agent's result. No wipe is offered to the help desk.
func TestBrowserDevicePageLock(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	s.addUser("hal@example.com", "correct horse battery", "staff")
	s.setRole("hal@example.com", "helpdesk")
	ctx := context.Background()
	id, dir := enrollAgent(t, s, agentwire.DeviceInfo{Serial: "PF-3X9A2", Hostname: "ada-thinkpad", Platform: "linux", Model: "ThinkPad T14", OSVersion: "24.04"})
	ag, run := reportingAgent(t, dir)

	b := s.newTab(exe)
	b.open(s.console() + "/devices")
	b.signIn("hal@example.com", "correct horse battery")
	b.waitAt(s.console() + "/devices")
	b.keyCheck(s, "/devices")
	b.do("search the laptop",
		chromedp.SendKeys(chromedp.CSS(`form.filters input[name=q]`), "THINKPAD"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)),
	)
	b.waitUntil("the search result", `location.search.includes("q=THINKPAD") && document.getElementById("devices") !== null`)
	b.wantText("#devices", "ada-thinkpad", "PF-3X9A2", "ada@example.com")
	b.do("open the device", chromedp.Click(chromedp.CSS(`#devices a[href="/devices/`+id+`"]`)))
	b.waitAt(s.console() + "/devices/" + id)
	b.wantText("#identity", "PF-3X9A2", "ThinkPad T14", "linux 24.04")
	b.wantText("#certificates", "in use")
	b.wantText("#signals", "disk.encrypted")
	if n := b.evalString(`String(document.querySelectorAll("#action-wipe, #action-selective_wipe, #action-retire").length)`); n != "0" {
		b.fatalf("the help desk is offered %s wipe or retire buttons", n)
	}
	b.do("lock", chromedp.Click(chromedp.ID("action-lock")))
	b.waitUntil("the lock queued", `location.search.includes("done=lock") && document.querySelector('#action-status tr[data-type="lock"]') !== null`)
	b.wantText("main", "Done: Lock.")
	b.wantText(`#action-status tr[data-type="lock"]`, "queued", "user:hal@example.com")

	acts, err := ag.PollActions(ctx, 0)
	if err != nil || len(acts) != 1 || acts[0].Type != agentwire.ActionLock {
		t.Fatalf("the agent's poll: %v %+v", err, acts)
	}
	if err := ag.Execute(ctx, acts); err != nil {
		t.Fatalf("execute the lock: %v", err)
	}
	if len(run.ran) != 1 || !strings.Contains(run.ran[0], "lock") {
		t.Errorf("the agent ran %q, want its lock command", run.ran)
	}
	b.open(s.console() + "/devices/" + id)
	b.wantText(`#action-status tr[data-type="lock"]`, "acknowledged", "screen locked")
	b.wantText("#timeline", "action_acknowledged", "device.action.lock", "device.view")
	b.docScreenshot("device-page.png")

	b.open(s.console() + "/inventory")
	b.wantText("#total", "Devices in service: 1")
	b.wantText("#by-os", "linux 24.04")
	b.wantText("#by-model", "ThinkPad T14")
	b.docScreenshot("inventory.png")
}

// reportingAgent opens the agent enrolled in dir, with a command runner
// that records commands instead of running them, and has it send a
// posture report; the agent closes with the test.
func reportingAgent(t *testing.T, dir string) (*agent.Agent, *lockRunner) {
	t.Helper()
	run := &lockRunner{}
	ag, err := agent.Open(agent.Options{StateDir: dir, Version: "1.0.0", Platform: agent.PlatformLinux, Runner: run, Collect: perfectPosture})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	if _, err := ag.SendPosture(context.Background(), false); err != nil {
		t.Fatalf("send posture: %v", err)
	}
	return ag, run
}

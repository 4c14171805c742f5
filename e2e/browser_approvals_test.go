package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/portier/portier/agent"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// enrollAgent enrolls a company laptop for ada@example.com with a real
// agent over mutual TLS (an owner token tok_enroller creates the code) and
// returns its device id and the agent's state directory.
func enrollAgent(t *testing.T, s *site, info agentwire.DeviceInfo) (id, dir string) {
	t.Helper()
	ctx := context.Background()
	const secret = "an-owner-token-for-enrolling-test-devices"
	if err := s.srv.Store().Write(ctx, store.Put(&store.Token{ID: "tok_enroller", Role: "owner", SecretHash: identity.HashSecret(secret), CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: s.srv, port: s.port}
	req, _ := http.NewRequest("POST", w.url("localhost", "/api/v1/enrollment/codes"), strings.NewReader(`{"ownership":"corporate","user":"ada@example.com","ttl":"15m"}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.browser(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var code struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&code)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create code = %d", resp.StatusCode)
	}
	dir = t.TempDir()
	enrolled, err := agent.Enroll(ctx, agent.EnrollOptions{Server: w.url("localhost", ""), Code: code.Code, StateDir: dir,
		Fingerprint: s.srv.CA().Fingerprint(), Version: "1.0.0", Out: io.Discard,
		Info: func(context.Context) agentwire.DeviceInfo { return info }})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return enrolled.DeviceID, dir
}

// TestBrowserWipeNeedsTwoPeople: in real Chromium, admin A asks for a full
// wipe of a company laptop on its device page and is told it waits for
// another admin; A's own Approve on /approvals is refused with the reason;
// admin B, in another browser, approves it; the device's action list
// shows exactly one wipe.
func TestBrowserWipeNeedsTwoPeople(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig+"enrollment:\n  wipe_enabled: true\n")
	for _, email := range []string{"alice.admin@example.com", "bob.admin@example.com"} {
		s.addUser(email, "correct horse battery", "staff")
		s.setRole(email, "admin")
	}
	id, _ := enrollAgent(t, s, agentwire.DeviceInfo{Serial: "PF-WIPE1", Hostname: "stolen-laptop", Platform: "linux", Model: "ThinkPad X1", OSVersion: "24.04"})
	page := "/devices/" + id

	a := s.newTab(exe)
	a.open(s.console() + page)
	a.signIn("alice.admin@example.com", "correct horse battery")
	a.waitAt(s.console() + page)
	a.keyCheck(s, page)
	a.do("ask for a wipe", chromedp.Click(chromedp.ID("action-wipe")))
	a.waitUntil("the confirmation", `document.getElementById("confirm-wipe") !== null`)
	a.do("confirm it",
		chromedp.SendKeys(chromedp.CSS(`#confirm input[name=reason]`), "stolen"),
		chromedp.Click(chromedp.ID("confirm-wipe")),
	)
	a.waitUntil("the request noted", `location.search.includes("requested=wipe")`)
	a.wantText("main", "waiting for approval by another admin")
	if n := countWipes(s, id); n != 0 {
		t.Fatalf("%d wipes queued before the approval", n)
	}
	a.open(s.console() + "/approvals")
	a.wantText("#approvals-pending", "user:alice.admin@example.com", "stolen", "Your request")
	a.docScreenshot("approvals.png")
	apr := a.evalString(`document.querySelector("#approvals-pending tr[data-approval]").dataset.approval`)
	a.do("approve her own request", chromedp.Click(chromedp.ID("approve-"+apr)))
	// Every page has a hidden .err (the script's status line): wait for
	// the refusal's own text, on the page the form's answer loaded.
	a.waitUntil("the refusal", `[...document.querySelectorAll(".err:not([hidden])")].some(e => e.textContent.includes("another administrator must approve it"))`)
	if n := countWipes(s, id); n != 0 {
		t.Fatalf("%d wipes queued after a self-approval", n)
	}

	b := s.newTab(exe)
	b.open(s.console() + "/approvals")
	b.signIn("bob.admin@example.com", "correct horse battery")
	b.waitAt(s.console() + "/approvals")
	b.keyCheck(s, "/approvals")
	b.wantText("#approvals-pending", "user:alice.admin@example.com")
	b.do("approve", chromedp.Click(chromedp.ID("approve-"+apr)))
	b.waitUntil("the approval done", `location.search.includes("done=approved")`)
	b.wantText("#approvals-decided", "approved", "user:bob.admin@example.com", "queued")
	b.open(s.console() + page)
	if n := b.evalString(`String(document.querySelectorAll('#action-status tr[data-type="wipe"]').length)`); n != "1" {
		b.fatalf("the device's action list shows %s wipes, want 1", n)
	}
	b.wantText(`#action-status tr[data-type="wipe"]`, "queued")
	if n := countWipes(s, id); n != 1 {
		t.Fatalf("%d wipes queued, want 1", n)
	}
}

// countWipes counts the device's wipe actions in the store.
func countWipes(s *site, id string) int {
	n := 0
	for _, a := range s.srv.Store().ActionsOf(id) {
		if a.Type == "wipe" {
			n++
		}
	}
	return n
}

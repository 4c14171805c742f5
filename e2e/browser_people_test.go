package e2e

import (
	"context"
	"testing"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// TestBrowserPeople: in real Chromium, an owner confirms with a virtual
// security key and invites a security engineer from /people; the invitee,
// in another browser, opens the link, signs in, registers a key and opens
// the access rules. A help-desk member gets the 403 page on a policy,
// resets an employee's lost key from the employee's page after a video
// call, and the employee, in a new browser with a new key, re-registers
// through the link and signs in.
func TestBrowserPeople(t *testing.T) {
	exe := requireChromium(t)
	s := startSite(t, consoleConfig)
	const pw = "correct horse battery"
	s.addUser("own@example.com", pw, "staff")
	s.setRole("own@example.com", "owner")
	s.addUser("sec@example.com", pw, "staff")
	s.addUser("hal@example.com", pw, "staff")
	s.setRole("hal@example.com", "helpdesk")
	s.addUser("ann@example.com", pw, "staff")

	owner := s.newTab(exe)
	owner.open(s.console() + "/people")
	owner.signIn("own@example.com", pw)
	owner.keyCheck(s, "/people")
	owner.wantText("header nav", "People")
	owner.wantText("#people", "hal@example.com", "helpdesk")
	link := owner.inviteFromPeople(s, "sec@example.com", "security")
	owner.docScreenshot("people-invite.png")

	sec := s.newTab(exe)
	sec.signInThroughLink(s, link, "sec@example.com", pw, "/rules")
	sec.wantText("h1", "Access rules")
	owner.open(s.console() + "/people?q=sec")
	owner.wantText("#people", "sec@example.com", "security")

	// The employee has a key, then loses it.
	ann := s.newTab(exe)
	ann.open(s.console() + "/")
	ann.signIn("ann@example.com", pw)
	ann.keyCheck(s, "/")

	hal := s.newTab(exe)
	hal.open(s.console() + "/people")
	hal.signIn("hal@example.com", pw)
	hal.keyCheck(s, "/people")
	hal.open(s.console() + "/rules/policies/staff")
	hal.wantText("h1", "Not allowed")
	reset := hal.resetKeysFromPeople(s, "ann@example.com", "video_call", "camera on, badge photo matched")
	hal.wantText("main", "Keys removed: 1. Sessions ended: 1.")
	hal.docScreenshot("people-reset.png")
	// Her old session ended with the reset.
	ann.open(s.console() + "/")
	ann.waitAt(s.console() + "/auth/sign_in")

	ann2 := s.newTab(exe)
	ann2.signInThroughLink(s, reset, "ann@example.com", pw, "/")
	ann2.wantText("h1", "Your applications")
	var keys int
	for _, c := range s.srv.Store().CredentialsOf("usr_ann") {
		if c.Purpose == identity.PurposeMFA {
			keys++
		}
	}
	u, _ := s.srv.Store().User("usr_ann")
	if keys != 1 || u.KeyReset != "" {
		t.Errorf("after re-registering: %d keys, reset pending %q", keys, u.KeyReset)
	}
	evs, err := s.srv.Store().QueryAudit(context.Background(), store.AuditQuery{Action: "user.security_keys_reset", Limit: 5})
	if err != nil || len(evs) != 1 || evs[0].Actor != "user:hal@example.com" || evs[0].Detail["verification"] != "video_call" {
		t.Errorf("audit = %+v %v", evs, err)
	}
}

package e2e

import (
	"net/url"
	"strings"

	"github.com/chromedp/chromedp"
)

// The people pages' browser steps, for the people test and the issue's
// end-to-end flow: an owner or admin invites from /people
// (inviteFromPeople), the invitee accepts, signs in and registers a key
// (signInThroughLink); the help desk resets someone's keys from their page
// (resetKeysFromPeople) and the person re-registers through the link
// (signInThroughLink again).

// inviteFromPeople fills the invitation form of /people (the tab's person
// must hold a role that invites, with a fresh key check) and returns the
// invitation link the page shows once.
func (b *tab) inviteFromPeople(s *site, email, role string) string {
	b.t.Helper()
	b.open(s.console() + "/people")
	b.wantText("h1", "People")
	b.do("invite "+email+" as "+role,
		chromedp.SendKeys(chromedp.CSS(`#invite input[name=email]`), email),
		chromedp.SetValue(chromedp.CSS(`#invite select[name=role]`), role),
		chromedp.Click(chromedp.CSS(`#invite button[type=submit]`)),
	)
	b.waitUntil("the invitation link", `document.getElementById("invite-url") !== null`)
	b.wantText("#invitations", email, role, "pending")
	link := b.value("#invite-url")
	if !strings.HasPrefix(link, s.console()+"/invite?token=") {
		b.fatalf("invitation link %q", link)
	}
	return link
}

// signInThroughLink opens a one-time link in the tab (a browser that is
// not signed in, with a new key): an invitation link, or the
// re-registration link of a key reset. It signs in with the password,
// registers a security key and confirms with it, and lands on landing with
// the person's role in force (the invited one, or theirs again).
func (b *tab) signInThroughLink(s *site, link, email, password, landing string) {
	b.t.Helper()
	b.open(link)
	b.signIn(email, password)
	b.waitAt(s.console() + "/auth/step_up")
	b.keyCheck(s, landing)
	b.waitUntil("the page "+landing, "location.pathname === "+jsString(landing))
}

// resetKeysFromPeople finds email on /people, opens their page and resets
// their security keys with the verification and note (the tab's person
// must hold users:reset_keys, with a fresh key check); it returns the
// re-registration link the page shows once.
func (b *tab) resetKeysFromPeople(s *site, email, verification, note string) string {
	b.t.Helper()
	b.open(s.console() + "/people?" + url.Values{"q": {email}}.Encode())
	b.do("open "+email, chromedp.Click(chromedp.CSS(`#people tr[data-email="`+email+`"] a`)))
	b.waitUntil("the person page", `document.getElementById("reset-keys") !== null`)
	b.wantText("#person", email)
	b.do("reset the keys of "+email,
		chromedp.SetValue(chromedp.CSS(`#reset-keys select[name=verification]`), verification),
		chromedp.SendKeys(chromedp.CSS(`#reset-keys input[name=note]`), note),
		chromedp.Click(chromedp.CSS(`#reset-keys button[type=submit]`)),
	)
	b.waitUntil("the re-registration link", `document.getElementById("reset-url") !== null`)
	link := b.value("#reset-url")
	if !strings.HasPrefix(link, s.console()+"/reset_keys?token=") {
		b.fatalf("re-registration link %q", link)
	}
	return link
}

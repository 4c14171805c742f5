package ui

import "fmt"

// Page is what the layout shows around a view: the person's language,
// the page title, the navigation their role allows, the CSRF token their
// forms and scripts send, and the view's own data.
type Page struct {
	// Lang is the page's language ("en" or "fr"; see Catalogue.Pick).
	Lang string
	// TitleKey is the catalogue key of the page title.
	TitleKey string
	// CSRF is the token forms carry (field "csrf") and scripts send
	// (X-CSRF-Token, read from <meta name="csrf">); "" for none.
	CSRF string
	// User is the signed-in person's email, "" when signed out.
	User string
	// Nav is the menu: only what the person's role may open.
	Nav []NavItem
	// Path is the request's path, to mark the current menu entry.
	Path string
	// Error and Notice are shown above the view (already translated).
	Error, Notice string
	// Script loads the console's script (WebAuthn ceremonies and the
	// like); pages without interaction leave it out.
	Script bool
	// Refresh, when set, sends the browser on to this URL at once (a
	// meta refresh: what a form's CSP allows after a POST to another host).
	Refresh string
	// Data is the view's own data.
	Data any

	msgs map[string]string
}

// NavItem is one menu entry.
type NavItem struct {
	Path, LabelKey string
}

// T is the catalogue message key in the page's language, formatted with
// args (fmt verbs). A key missing from the catalogue shows as itself (a
// test makes sure none is missing).
func (p *Page) T(key string, args ...any) string {
	s, ok := p.msgs[key]
	if !ok {
		s = key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

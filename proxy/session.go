package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// touch records a session's activity at most once a minute, off the
// request's path, so idle timeouts work without a write per request.
func (p *Proxy) touch(s *store.Session, now time.Time) {
	if now.Sub(s.LastSeen) < identity.LastSeenGranularity {
		return
	}
	if _, busy := p.touching.LoadOrStore(s.ID, true); busy {
		return
	}
	go func() {
		defer p.touching.Delete(s.ID)
		cur, ok := p.opts.Store.Session(s.ID) // the latest record: keep a step-up's MFAAt
		if !ok {
			return
		}
		cp := *cur
		cp.LastSeen = now
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Update, not Put: a sign-out meanwhile must not be undone by a touch.
		err := p.opts.Store.Write(ctx, store.Update(&cp))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.opts.Log.Warn("proxy: cannot record session activity", "err", err)
		}
	}()
}

// callback trades a one-time hand-off code from the console for a session
// cookie on this route host, then goes to the hand-off's path on this host
// (never elsewhere: no open redirect). The code is accepted only from the
// browser that started the sign-in — the one holding the attempt cookie the
// hand-off is bound to — so a link to someone else's code signs no one in.
func (p *Proxy) callback(w http.ResponseWriter, r *http.Request, host string) {
	code := r.URL.Query().Get("code")
	now := p.opts.Clock()
	id := identity.HashSecret(code)
	// Made by the console on another replica an instant ago? Catch up first.
	h, ok := store.Find(p.opts.Store, func() (*store.Handoff, bool) { return p.opts.Store.Handoff(id) })
	if code == "" || !ok || h.Host != host || !now.Before(h.ExpiresAt) {
		p.renderPage(w, http.StatusBadRequest, page{Title: "Sign-in link not valid",
			Lead: "This sign-in link is expired, already used, or for another application. Open the application again to sign in."})
		return
	}
	attempt, ok := matchAttempt(r, h.Attempt)
	if !ok {
		p.opts.Log.Info("proxy: refused a hand-off not started in this browser", "host", host)
		p.renderPage(w, http.StatusBadRequest, page{Title: "Sign-in link not valid",
			Lead: "This sign-in link was not started in this browser. Open the application again to sign in."})
		return
	}
	parent, ok := p.opts.Store.Session(h.SessionID)
	if !ok || !identity.BoundTo(parent, "") {
		p.renderPage(w, http.StatusBadRequest, page{Title: "Session ended", Lead: "Your session ended. Open the application again to sign in."})
		return
	}
	cookie, id := identity.NewSessionSecret()
	child := *parent
	child.ID, child.ParentID, child.Host, child.CreatedAt, child.LastSeen = id, parent.ID, host, now, now
	child.RefreshEnc = nil
	child.SignedInAt = signedInAt(parent)
	err := p.opts.Store.Write(r.Context(),
		store.Create(&store.Claim{ID: "handoff/" + h.ID, At: now}),
		store.Delete(store.KindHandoff, h.ID),
		store.Put(&child))
	if errors.Is(err, store.ErrExists) {
		p.renderPage(w, http.StatusBadRequest, page{Title: "Sign-in link already used", Lead: "Open the application again to sign in."})
		return
	}
	if err != nil {
		p.opts.Log.Error("proxy: cannot create the route session", "err", err)
		p.unavailable(w, r, "Portier could not save your session.")
		return
	}
	clearAttempt(w, attempt)
	http.SetCookie(w, identity.SessionCookieFor(cookie, child.ExpiresAt))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, localPath(h.Path), http.StatusFound)
}

// signedInAt is when the person behind s signed in: a route session's
// copied SignedInAt, a console session's CreatedAt. A route session handed
// off before Portier copied the time has none: zero, which no rule with a
// session_max_age accepts (fail closed; signing in again fixes it).
func signedInAt(s *store.Session) time.Time {
	if !s.SignedInAt.IsZero() || s.ParentID != "" {
		return s.SignedInAt
	}
	return s.CreatedAt
}

// localPath returns dest if it is a path on this host, else "/": no open
// redirect through a scheme-relative or backslash path.
func localPath(dest string) string {
	if !strings.HasPrefix(dest, "/") || strings.HasPrefix(dest, "//") {
		return "/"
	}
	// Browsers drop tabs and newlines from a Location and read '\' as '/':
	// "/\t/evil.example" would leave the host.
	for i := 0; i < len(dest); i++ {
		if c := dest[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	return dest
}

// signOut ends the route session and its console session (and so every
// other route session), then shows the console's signed-out page, or, for
// the deny page's "Sign in again" form (field signInAgainField), goes back
// to the page on this host so that the person signs in afresh. Only a
// same-origin request may do it (sameOriginPost): a cross-site form cannot
// sign people out.
func (p *Proxy) signOut(w http.ResponseWriter, r *http.Request, cookie string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "405 sign out with POST", http.StatusMethodNotAllowed)
		return
	}
	if !sameOriginPost(r, p.opts.ExternalURL) {
		p.renderPage(w, http.StatusForbidden, page{Title: "Sign-out refused",
			Lead: "This sign-out request did not come from this application's own pages or from the Portier portal, so Portier ignored it. Use the application's sign-out button."})
		return
	}
	if s, ok := identity.Lookup(p.opts.Store, cookie, HostOnly(r.Host)); ok {
		if err := identity.EndSession(r.Context(), p.opts.Store, s.ParentID); err != nil {
			p.opts.Log.Error("proxy: sign out failed", "err", err)
			p.unavailable(w, r, "Portier could not end your session.")
			return
		}
	}
	http.SetCookie(w, identity.ClearSessionCookie())
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if back := r.PostFormValue(signInAgainField); back != "" {
		// "Sign in again" on the deny page: back to the page on this host,
		// which, with no session left, starts a new sign-in.
		http.Redirect(w, r, localPath(back), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, p.opts.ExternalURL+"/auth/signed_out", http.StatusSeeOther)
}

// sameOriginPost reports whether the browser proves a state-changing
// request came from the route host's own origin or from the console: an
// Origin header naming one of them, or, when the Origin is absent or
// "null" (as under Referrer-Policy: no-referrer), Sec-Fetch-Site:
// same-origin. A request that proves neither is refused: fail closed.
func sameOriginPost(r *http.Request, console string) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site == "cross-site" {
		return false
	}
	switch origin := r.Header.Get("Origin"); origin {
	case "", "null":
		return site == "same-origin"
	default:
		return strings.EqualFold(origin, "https://"+r.Host) || strings.EqualFold(origin, originOf(console))
	}
}

// originOf is the scheme://host[:port] of an absolute URL; for anything
// else a value no Origin header can equal.
func originOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "\x00" // matches no Origin header
	}
	return u.Scheme + "://" + u.Host
}

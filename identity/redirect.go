package identity

import (
	"context"
	"net/url"
	"strings"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

// HandoffPath is where a route host trades a hand-off code for its session.
const HandoffPath = "/.portier/callback"

// maxRedirectLen bounds the rd values considered at all.
const maxRedirectLen = 4096

// CheckRedirect decides where a browser may go after signing in: rd itself
// when it is a path on the console or a URL of a configured route, else the
// console home. route reports a route host (which needs a hand-off).
func (s *Service) CheckRedirect(rd string) (target *url.URL, route bool) {
	return checkRedirect(s.external, s.home, s.dest, rd)
}

// checkRedirect is CheckRedirect without the service, for the fuzzer. It
// refuses everything it cannot prove safe: other hosts, scheme-relative
// (//host) and backslash forms, userinfo, non-https schemes, control
// characters and whitespace.
func checkRedirect(ext *url.URL, home string, dest func(*url.URL) string, rd string) (*url.URL, bool) {
	homeURL := &url.URL{Scheme: ext.Scheme, Host: ext.Host, Path: home}
	if rd == "" || len(rd) > maxRedirectLen {
		return homeURL, false
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return homeURL, false
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Opaque != "" || u.User != nil {
		return homeURL, false
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(rd, "/") || strings.HasPrefix(rd, "//") {
			return homeURL, false
		}
		return consoleURL(ext, u), false
	}
	if u.Scheme != "https" || u.Host == "" || strings.HasPrefix(u.Host, ":") {
		return homeURL, false
	}
	u.Host = strings.ToLower(u.Host)
	if u.Host == ext.Host {
		return consoleURL(ext, u), false
	}
	u.Fragment, u.RawFragment = "", ""
	if dest == nil || dest(u) == "" {
		return homeURL, false
	}
	return u, true
}

// consoleURL keeps only the path and query of u, on the console's origin.
func consoleURL(ext, u *url.URL) *url.URL {
	c := &url.URL{Scheme: ext.Scheme, Host: ext.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if c.Path == "" || strings.HasPrefix(c.Path, "//") {
		c.Path, c.RawPath = "/"+strings.TrimLeft(c.Path, "/"), ""
	}
	return c
}

// Continue returns where the browser of console session sess goes after
// signing in or stepping up: a console URL, or, for a route, the route
// host's hand-off callback with a fresh one-time code (60 s) that the proxy
// trades for a session of its own on that host.
//
// A hand-off is issued only for a route URL that carries the reference of
// a sign-in attempt (AttemptParam, added by the proxy when it sent the
// browser here), and is bound to it. A route URL without one (typed, or
// linked from elsewhere) gets no code: the browser goes to the application
// itself, whose proxy starts a bound attempt and comes back.
func (s *Service) Continue(ctx context.Context, sess *store.Session, rd string) (string, error) {
	u, route := s.CheckRedirect(rd)
	if !route {
		return u.String(), nil
	}
	var ref string
	u.RawQuery, ref = SplitAttempt(u.RawQuery)
	u.ForceQuery = false
	if ref == "" {
		return u.String(), nil
	}
	if err := s.allowHandoff(ctx, sess.ID); err != nil {
		return "", err
	}
	code, id := NewSessionSecret()
	path := u.EscapedPath()
	if path == "" || strings.HasPrefix(path, "//") {
		path = "/" + strings.TrimLeft(path, "/")
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	h := &store.Handoff{ID: id, SessionID: sess.ID, Host: strings.ToLower(u.Hostname()), Path: path,
		Attempt: ref, ExpiresAt: s.now().Add(HandoffLifetime)}
	if err := s.st.Write(ctx, store.Create(h)); err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "Portier could not pass your sign-in on to the application. Try again in a minute.")
	}
	return "https://" + u.Host + HandoffPath + "?" + url.Values{"code": {code}}.Encode(), nil
}

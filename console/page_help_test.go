package console

import (
	"net/http"
	"strings"
	"testing"
)

// TestHelpPage: the user guide is served at /help to anyone, signed in or
// not, under the console's CSP, with working section anchors and its
// image; every page links to it; a path out of the guide's images is 404.
func TestHelpPage(t *testing.T) {
	e := newEnv(t)
	e.withPages(t)
	b := e.browser(t)
	p := b.get(extURL + "/help")
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `<h1>User guide</h1>`) ||
		!strings.Contains(p.body, `<h2 id="lost-or-stolen-device">Lost or stolen device</h2>`) ||
		!strings.Contains(p.body, `href="#lost-or-stolen-device"`) || !strings.Contains(p.body, "Report lost or") {
		t.Fatalf("/help signed out = %d:\n%s", p.StatusCode, p.body)
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("/help CSP = %q", csp)
	}
	if strings.Count(p.body, "<h1>") != 1 {
		t.Errorf("the guide's own title is printed beside the layout's")
	}
	img := b.get(extURL + "/help/images/byod-watermark.png")
	if img.StatusCode != http.StatusOK || img.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(img.body, "\x89PNG") {
		t.Errorf("the guide's image = %d %q", img.StatusCode, img.Header.Get("Content-Type"))
	}
	if !strings.Contains(p.body, `src="/help/images/byod-watermark.png"`) {
		t.Errorf("the guide does not show its image from /help/images/")
	}
	for _, bad := range []string{"/help/images/..%2Fuser-guide.md", "/help/images/guide.go", "/help/images/dashboard.png"} {
		if got := b.get(extURL + bad); got.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", bad, got.StatusCode)
		}
	}
	b.signInPassword(e.addUser(t, "ada@example.com", pw, false).Email, pw, "/my/devices")
	if got := b.get(extURL + "/my/devices"); !strings.Contains(got.body, `<a id="help-link" href="/help">`) {
		t.Errorf("/my/devices does not link to the guide:\n%s", got.body)
	}
}

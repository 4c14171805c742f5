package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
)

// builtinApp stands for the demo app: a page with a CSP of its own that
// shows the identity Portier gave it, and a CSV export.
func builtinApp(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/export":
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", "attachment; filename=x.csv")
		_, _ = io.WriteString(w, "a,b\n")
	case "/panic":
		panic("broken")
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_, _ = io.WriteString(w, "<!doctype html><html><head><title>Demo</title></head><body><p>hello "+r.Header.Get("X-Portier-Email")+"</p></body></html>")
	}
}

// TestBuiltInRouteGetsResponseRestrictions: a built-in app's answers get
// the response side of the decision's restrictions like an upstream's:
// the watermark, banner and script on its pages (with its CSP amended),
// its downloads blocked; without restrictions its answer is untouched.
func TestBuiltInRouteGetsResponseRestrictions(t *testing.T) {
	e := newEnv(t)
	pols, err := policy.Parse("builtin.yaml", []byte(`
policies:
  - id: marked
    allow: {or: [{id: byod-demo, group: {has: staff}}]}
    restrictions: [watermark, block_clipboard, block_print, block_downloads, no_store]
  - id: plain
    allow: {and: [{group: {has: staff}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(builtinApp)
	if err := e.p.Load([]proxy.Route{
		{Route: config.Route{From: "https://demo.localhost", To: "http://demo.invalid", Policy: "marked"}, Handler: app},
		{Route: config.Route{From: "https://open.localhost", To: "http://demo.invalid", Policy: "plain"}, Handler: app},
	}, append(pols, e.pols...)); err != nil {
		t.Fatal(err)
	}
	c := e.client(nil)
	cookie, _ := e.sessionOn("demo.localhost", "bea@example.com", "staff")
	resp, body := e.do(c, "GET", "https://demo.localhost/", cookie, map[string]string{"Sec-Fetch-Dest": "document"})
	if resp.StatusCode != 200 || !strings.Contains(body, "<p>hello bea@example.com</p>") {
		t.Fatalf("page = %d %s", resp.StatusCode, body)
	}
	stamp := "bea@example.com · " + e.clk.Now().UTC().Format("2006-01-02 15:04 UTC")
	if !strings.Contains(body, "</head><link rel=\"stylesheet\" href=\"/.portier/mam/mam.css") || strings.Count(body, "<span>"+stamp+"</span>") < 50 ||
		!strings.Contains(body, "Access rule: byod-demo.") || !strings.Contains(body, `data-block="clipboard print"`) {
		t.Errorf("the built-in page lacks Portier's elements:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "default-src 'none'; style-src 'unsafe-inline' https://demo.localhost/.portier/mam/; script-src https://demo.localhost/.portier/mam/" {
		t.Errorf("CSP = %s", csp)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	if resp, body := e.do(c, "GET", "https://demo.localhost/export", cookie, nil); resp.StatusCode != 403 || !strings.Contains(body, "Download blocked") {
		t.Errorf("export = %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(c, "GET", "https://demo.localhost/panic", cookie, nil); resp.StatusCode != 500 {
		t.Errorf("a failing built-in app answered %d, want 500", resp.StatusCode)
	}

	open, _ := e.sessionOn("open.localhost", "bea@example.com", "staff")
	resp, body = e.do(c, "GET", "https://open.localhost/", open, map[string]string{"Sec-Fetch-Dest": "document"})
	if strings.Contains(body, "portier") || resp.Header.Get("Content-Security-Policy") != "default-src 'none'; style-src 'unsafe-inline'" {
		t.Errorf("unrestricted built-in page changed: %s %v", body, resp.Header)
	}
	if resp, _ := e.do(c, "GET", "https://open.localhost/export", open, nil); resp.StatusCode != 200 {
		t.Errorf("unrestricted export = %d", resp.StatusCode)
	}
}

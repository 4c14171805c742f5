package proxy_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
)

const mamPolicies = `
policies:
  - id: personal
    allow:
      or:
        - id: byod-staff
          group: {has: staff}
    restrictions: [watermark, block_clipboard, block_print, block_downloads]
  - id: open
    allow:
      and:
        - group: {has: staff}
`

// mamPage is the upstream's page: a strict CSP with a nonce and
// 'strict-dynamic', the application's own inline script under that nonce.
const mamPage = `<!doctype html><html><head><title>Mail</title><script nonce="app1">window.app = 1</script></head>` +
	`<body class="mail"><h1>Inbox</h1><p>` + "secret quarterly numbers" + `</p></body></html>`

// mamMetaPage sets its strict CSP in a <meta> tag instead of a header.
const mamMetaPage = `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'nonce-app1' 'strict-dynamic'">` +
	`<script nonce="app1">window.app = 1</script></head><body>inbox</body></html>`

const mamCSP = `default-src 'self'; script-src 'nonce-app1' 'strict-dynamic'; object-src 'none'`

// mamEnv is the test env with an HTML upstream on mail.localhost
// (watermarked, restricted) and plain.localhost (not restricted).
type mamEnv struct {
	*env
	mu       sync.Mutex
	upHeader http.Header // what the HTML upstream last received
}

func newMAMEnv(t *testing.T) *mamEnv {
	e := &mamEnv{env: newEnv(t)}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.upHeader = r.Header.Clone()
		e.mu.Unlock()
		h := w.Header()
		switch r.URL.Path {
		case "/page":
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", mamCSP)
			h.Set("ETag", `"v1"`)
			h.Set("Cache-Control", "max-age=600")
			if r.Header.Get("Accept-Encoding") == "gzip" {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				_, _ = io.WriteString(zw, mamPage)
				_ = zw.Close()
				h.Set("Content-Encoding", "gzip")
				h.Set("Content-Length", strconv.Itoa(b.Len()))
				_, _ = w.Write(b.Bytes())
				return
			}
			h.Set("Content-Length", strconv.Itoa(len(mamPage)))
			_, _ = io.WriteString(w, mamPage)
		case "/meta":
			h.Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, mamMetaPage)
		case "/unlabelled":
			_, _ = io.WriteString(w, "<html><body>no content type</body></html>")
		case "/brotli":
			h.Set("Content-Type", "text/html")
			h.Set("Content-Encoding", "br")
			_, _ = w.Write([]byte{0x1b, 0x03, 0x00})
		case "/data.json":
			h.Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"html":"<body>"}`)
		case "/fragment":
			h.Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<tr><td>1</td></tr>")
		case "/cached":
			h.Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotModified)
		case "/export":
			h.Set("Content-Type", "text/csv")
			_, _ = io.WriteString(w, "a,b\n")
		}
	}))
	t.Cleanup(up.Close)
	pols, err := policy.Parse("mam.yaml", []byte(mamPolicies))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Load([]proxy.Route{
		{Route: config.Route{From: "https://mail.localhost", To: up.URL, Policy: "personal"}},
		{Route: config.Route{From: "https://plain.localhost", To: up.URL, Policy: "open"}},
		{Route: config.Route{From: "https://files.localhost", To: e.upstream.URL, Policy: "byod"}},
	}, append(pols, e.pols...)); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *mamEnv) upstreamSaw() http.Header { e.mu.Lock(); defer e.mu.Unlock(); return e.upHeader }

// TestWatermarkOnAGzippedPageWithStrictCSP: the page an upstream sends
// gzipped, with a strict nonce-based CSP, arrives whole and readable, with
// the watermark (the person's e-mail and the time), the banner naming the
// restrictions and the rule, and Portier's script allowed by the amended
// CSP through a nonce of its own, while the application's nonce still
// works and nothing allows inline scripts.
func TestWatermarkOnAGzippedPageWithStrictCSP(t *testing.T) {
	e := newMAMEnv(t)
	cookie, _ := e.sessionOn("mail.localhost", "bea@example.com", "staff")
	resp, body := e.do(e.client(nil), "GET", "https://mail.localhost/page", cookie, map[string]string{
		"Accept-Encoding": "gzip, deflate, br, zstd", "If-None-Match": `"v1"`, "Sec-Fetch-Dest": "document"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	saw := e.upstreamSaw()
	if saw.Get("Accept-Encoding") != "gzip" || saw.Get("If-None-Match") != "" {
		t.Errorf("the upstream was asked with Accept-Encoding %q, If-None-Match %q; want gzip only and no revalidation",
			saw.Get("Accept-Encoding"), saw.Get("If-None-Match"))
	}
	if ce, cl := resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Length"); ce != "" || cl != "" {
		t.Errorf("Content-Encoding %q, Content-Length %q: want the decoded page, its length unknown", ce, cl)
	}
	if resp.Header.Get("ETag") != "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("ETag %q Cache-Control %q: a watermarked page must not be cached or revalidated", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
	}
	if stripped := regexp.MustCompile(`<link[^>]*>|<portier-wm.*</portier-wm>|<portier-banner.*</portier-banner>|<script src="/\.portier[^>]*></script>`).ReplaceAllString(body, ""); stripped != mamPage {
		t.Errorf("without Portier's elements the page is\n%s\nwant\n%s", stripped, mamPage)
	}
	stamp := "bea@example.com · " + e.clk.Now().UTC().Format("2006-01-02 15:04 UTC")
	if n := strings.Count(body, "<span>"+stamp+"</span>"); n < 50 {
		t.Errorf("the watermark %q appears %d times:\n%s", stamp, n, body)
	}
	if !strings.Contains(body, "</head>"+`<link rel="stylesheet" href="/.portier/mam/mam.css?v=`) {
		t.Errorf("the stylesheet is not right after </head>:\n%s", body)
	}
	if !strings.Contains(body, `<link rel="stylesheet" href="/.portier/mam/print.css?v=`) || !strings.Contains(body, `media="print"`) {
		t.Errorf("block_print's stylesheet is missing")
	}
	if !strings.Contains(body, "Restricted access on this device: downloads blocked, pages watermarked with your e-mail, copy and paste blocked, printing blocked. Access rule: byod-staff.") {
		t.Errorf("banner missing or wrong:\n%s", body)
	}
	m := regexp.MustCompile(`<script src="/\.portier/mam/mam\.js\?v=[0-9a-f]+" data-block="clipboard print" nonce="([A-Z2-7]+)" defer></script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("Portier's script is missing or has no nonce:\n%s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	wantCSP := "default-src 'self'; script-src 'nonce-app1' 'strict-dynamic' https://mail.localhost/.portier/mam/ 'nonce-" + m[1] +
		"'; object-src 'none'; style-src 'self' https://mail.localhost/.portier/mam/"
	if csp != wantCSP {
		t.Errorf("CSP\n got %s\nwant %s", csp, wantCSP)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Error("Portier added inline script or style")
	}

	// In French for a French browser.
	_, body = e.do(e.client(nil), "GET", "https://mail.localhost/page", cookie, map[string]string{"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"})
	if !strings.Contains(body, `lang="fr">Accès restreint sur cet appareil : téléchargements bloqués, pages marquées de votre e-mail, copier-coller bloqué, impression bloquée. Règle d&#39;accès : byod-staff.`) {
		t.Errorf("French banner missing:\n%s", body)
	}
}

// TestWatermarkLeavesOtherResponsesAlone: HEAD, 304, JSON and an
// unrestricted route pass unchanged (but a HEAD's length no longer
// describes the page); an unlabelled page is recognised; a page in an
// encoding Portier cannot decode is refused rather than shown bare.
func TestWatermarkLeavesOtherResponsesAlone(t *testing.T) {
	e := newMAMEnv(t)
	cookie, _ := e.sessionOn("mail.localhost", "bea@example.com", "staff")
	c := e.client(nil)
	identity := map[string]string{"Accept-Encoding": "identity"}

	resp, body := e.do(c, "HEAD", "https://mail.localhost/page", cookie, map[string]string{"Accept-Encoding": "gzip"})
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("HEAD with gzip = %d, Content-Length %q, Content-Encoding %q", resp.StatusCode, resp.Header.Get("Content-Length"), resp.Header.Get("Content-Encoding"))
	}
	resp, body = e.do(c, "HEAD", "https://mail.localhost/page", cookie, identity)
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != "" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "/.portier/mam/") {
		t.Errorf("HEAD = %d, Content-Length %q, CSP %q, body %q", resp.StatusCode, resp.Header.Get("Content-Length"), resp.Header.Get("Content-Security-Policy"), body)
	}
	if e.upstreamSaw().Get("Accept-Encoding") != "identity" {
		t.Errorf("a client without gzip got the upstream asked for %q", e.upstreamSaw().Get("Accept-Encoding"))
	}
	if resp, body := e.do(c, "GET", "https://mail.localhost/cached", cookie, identity); resp.StatusCode != 304 || body != "" {
		t.Errorf("304 = %d %q", resp.StatusCode, body)
	}
	resp, body = e.do(c, "GET", "https://mail.localhost/data.json", cookie, identity)
	if body != `{"html":"<body>"}` || resp.ContentLength != int64(len(body)) {
		t.Errorf("JSON = %q (length %d), want it untouched", body, resp.ContentLength)
	}
	if _, body := e.do(c, "GET", "https://mail.localhost/unlabelled", cookie, identity); !strings.HasPrefix(body, "<html><body><link") || !strings.Contains(body, "<portier-wm") {
		t.Errorf("unlabelled page = %s", body)
	}
	if _, body := e.do(c, "GET", "https://mail.localhost/fragment", cookie, map[string]string{"Accept": "*/*", "Sec-Fetch-Dest": "empty"}); body != "<tr><td>1</td></tr>" {
		t.Errorf("a fragment fetched by a script was changed: %s", body)
	}
	if _, body := e.do(c, "GET", "https://mail.localhost/fragment", cookie, map[string]string{"Sec-Fetch-Dest": "document"}); !strings.HasPrefix(body, "<tr><td>1</td></tr><link") ||
		!strings.HasSuffix(body, "</portier-banner><script src=\"/.portier/mam/mam.js?v="+mamJSVersion(t, e)+"\" data-block=\"clipboard print\" defer></script>") {
		t.Errorf("a page without <body> opened as a document = %s", body)
	}
	if resp, body := e.do(c, "GET", "https://mail.localhost/brotli", cookie, identity); resp.StatusCode != 502 || !strings.Contains(body, "Page not shown") ||
		!strings.Contains(body, "Restrictions on this device: block_downloads, watermark, block_clipboard, block_print (rule byod-staff).") {
		t.Errorf("undecodable page = %d %s", resp.StatusCode, body)
	}
	if resp, body := e.do(c, "GET", "https://mail.localhost/export", cookie, identity); resp.StatusCode != 403 || !strings.Contains(body, "Download blocked") ||
		!strings.Contains(body, "(rule byod-staff)") {
		t.Errorf("download = %d %s", resp.StatusCode, body)
	}

	plain, _ := e.sessionOn("plain.localhost", "bea@example.com", "staff")
	resp, body = e.do(c, "GET", "https://plain.localhost/page", plain, map[string]string{"Accept-Encoding": "br"})
	if body != mamPage || resp.Header.Get("Content-Length") != strconv.Itoa(len(mamPage)) || resp.Header.Get("Content-Security-Policy") != mamCSP {
		t.Errorf("unrestricted page changed: %q %v", body, resp.Header)
	}
	if e.upstreamSaw().Get("Accept-Encoding") != "br" {
		t.Errorf("unrestricted route rewrote Accept-Encoding to %q", e.upstreamSaw().Get("Accept-Encoding"))
	}
}

// TestMAMAssetsServed: the script and stylesheets come from Portier on the
// route host, without a session; nothing else under the prefix reaches the
// application.
func TestMAMAssetsServed(t *testing.T) {
	e := newMAMEnv(t)
	c := e.client(nil)
	resp, body := e.do(c, "GET", "https://mail.localhost/.portier/mam/mam.js", "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(body, `"copy", "cut", "paste"`) {
		t.Errorf("mam.js = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = e.do(c, "GET", "https://mail.localhost/.portier/mam/print.css", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "@media print") {
		t.Errorf("print.css = %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(c, "GET", "https://mail.localhost/.portier/mam/other.js", "", nil); resp.StatusCode != 404 {
		t.Errorf("unknown asset = %d, want 404", resp.StatusCode)
	}
	if e.upstreamSaw() != nil {
		t.Error("an asset request reached the upstream")
	}
}

// TestDenyPageNamesRestrictions: a request a restriction refuses is
// explained with the restriction, the restrictions in force and the rule.
func TestDenyPageNamesRestrictions(t *testing.T) {
	e := newMAMEnv(t)
	cookie, _ := e.sessionOn("files.localhost", "dan@example.com", "staff")
	resp, body := e.do(e.client(nil), "POST", "https://files.localhost/upload", cookie, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "read-only") ||
		!strings.Contains(body, "Restrictions on this device: read_only, block_downloads, no_store (rule byod/allow/0).") {
		t.Errorf("restricted POST = %d %s", resp.StatusCode, body)
	}
}

// mamJSVersion reads the version query of Portier's script from a page.
func mamJSVersion(t *testing.T, e *mamEnv) string {
	t.Helper()
	cookie, _ := e.sessionOn("mail.localhost", "v@example.com", "staff")
	_, body := e.do(e.client(nil), "GET", "https://mail.localhost/unlabelled", cookie, nil)
	m := regexp.MustCompile(`mam\.js\?v=([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no script in %s", body)
	}
	return m[1]
}

// TestWatermarkOnAPageWithAMetaCSP: a page that sets its CSP in a <meta>
// tag gets that policy amended as a header's would be: Portier's asset
// source for styles and scripts, and a nonce its script carries, since the
// page's script policy relies on a nonce; the rest of the page is as sent.
func TestWatermarkOnAPageWithAMetaCSP(t *testing.T) {
	e := newMAMEnv(t)
	cookie, _ := e.sessionOn("mail.localhost", "bea@example.com", "staff")
	resp, body := e.do(e.client(nil), "GET", "https://mail.localhost/meta", cookie, map[string]string{"Sec-Fetch-Dest": "document"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != "" {
		t.Fatalf("status %d, CSP header %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	m := regexp.MustCompile(`<script src="/\.portier/mam/mam\.js\?v=[0-9a-f]+" data-block="clipboard print" nonce="([A-Z2-7]+)" defer></script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("Portier's script is missing or has no nonce:\n%s", body)
	}
	const base = "https://mail.localhost/.portier/mam/"
	wantMeta := `<meta http-equiv="Content-Security-Policy" content="default-src &#39;self&#39;; script-src &#39;nonce-app1&#39; &#39;strict-dynamic&#39; ` +
		base + ` &#39;nonce-` + m[1] + `&#39;; style-src &#39;self&#39; ` + base + `">`
	if !strings.Contains(body, wantMeta) {
		t.Errorf("meta CSP not amended; want %s in\n%s", wantMeta, body)
	}
	stripped := regexp.MustCompile(`<link[^>]*>|<portier-wm.*</portier-wm>|<portier-banner.*</portier-banner>|<script src="/\.portier[^>]*></script>`).ReplaceAllString(body, "")
	if want := strings.Replace(mamMetaPage, mamMetaPage[strings.Index(mamMetaPage, "<meta"):strings.Index(mamMetaPage, "<script")], wantMeta, 1); stripped != want {
		t.Errorf("without Portier's elements the page is\n%s\nwant\n%s", stripped, want)
	}
}

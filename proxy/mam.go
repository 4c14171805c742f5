package proxy

import (
	"bufio"
	"compress/gzip"
	"compress/zlib"
	"crypto/rand"
	"errors"
	"html"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/policy"
)

// pageRestrictions are the restrictions Portier's script acts on.
const pageRestrictions = policy.Watermark | policy.BlockClipboard | policy.BlockPrint

// errCannotContain is returned for an HTML page Portier cannot add its
// elements to (an encoding it cannot decode): the page is refused rather
// than shown without the watermark and banner.
var errCannotContain = errors.New("restricted page in an encoding Portier cannot decode")

// containment is what a restricted HTML page is given: who and when for
// the watermark, the rule and restrictions for the banner.
type containment struct {
	rs    policy.Restrictions
	rules []string
	email string
	now   time.Time
	lang  string // "en" or "fr"
	host  string // the route host as the browser wrote it, with port
	// document: the request is a navigation, so a page without <body> or
	// </head> still gets the markup, at its end.
	document bool
}

// newContainment describes the request's containment.
func newContainment(r *http.Request, rs policy.Restrictions, rules []string, email string, now time.Time) *containment {
	dest := r.Header.Get("Sec-Fetch-Dest")
	return &containment{rs: rs, rules: rules, email: email, now: now, lang: ui.Pick(r.Header.Get("Accept-Language")),
		host: cspHost(r.Host), document: dest == "document" || dest == "iframe" || (dest == "" && strings.Contains(r.Header.Get("Accept"), "text/html"))}
}

// cspHost is the route host for a CSP source: the host name as the
// proxy matched it and the port only when it is all digits, so nothing a
// client writes in Host reaches the header verbatim.
func cspHost(h string) string {
	name := HostOnly(h)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		port := h[i+1:]
		if port != "" && strings.Trim(port, "0123456789") == "" {
			return name + ":" + port
		}
	}
	return name
}

// prepareRestrictedRequest adjusts the request to the upstream so that
// HTML comes back in a form Portier can add its elements to: the
// upstream may compress with gzip (which Portier decodes for HTML and
// passes through for everything else) but not with br, zstd or another
// coding the standard library cannot decode; and a page is asked for in
// full, never revalidated, so the watermark shows the time of the visit.
func prepareRestrictedRequest(r *http.Request) {
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		r.Header.Set("Accept-Encoding", "gzip")
	} else {
		r.Header.Set("Accept-Encoding", "identity")
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		r.Header.Del("If-None-Match")
		r.Header.Del("If-Modified-Since")
	}
}

// acceptsGzip reports whether an Accept-Encoding value lists gzip (or *)
// with a non-zero quality.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q=0"), ".0") == "" {
			continue
		}
		return true
	}
	return false
}

// contain adds Portier's elements to an HTML response: it decodes gzip or
// deflate, lets the page's Content-Security-Policy load Portier's assets,
// and wraps the body in the streaming injector. Responses without a body
// to change (HEAD, 204, 206, 304, 1xx) and non-HTML ones pass as they are,
// except that a HEAD's Content-Length no longer describes the page.
func (c *containment) contain(resp *http.Response, isHead bool) error {
	st := resp.StatusCode
	if st < 200 || st == http.StatusNoContent || st == http.StatusPartialContent || st == http.StatusNotModified {
		return nil
	}
	if resp.Header.Get("Content-Type") == "" && !isHead {
		// The server would sniff an unlabelled body; sniff it here, as it
		// would, so that an unlabelled page is still contained.
		br := bufio.NewReaderSize(resp.Body, 512)
		head, _ := br.Peek(512)
		resp.Header.Set("Content-Type", http.DetectContentType(head))
		resp.Body = readCloser{br, resp.Body}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/html" {
		return nil
	}
	h := resp.Header
	if isHead {
		// No body to decode; the page a GET gets is not encoded.
		h.Del("Content-Encoding")
	} else if err := decodeBody(resp); err != nil {
		return err
	}
	h.Del("Content-Length")
	resp.ContentLength = -1
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Cache-Control", "no-store")
	// Portier's script carries a nonce whenever a policy, a header's now
	// or a meta tag's met while streaming, relies on nonces or hashes.
	withScript, nonce, usedNonce := c.rs&pageRestrictions != 0, "", false
	if withScript {
		nonce = rand.Text()
	}
	base := "https://" + c.host + mamPrefix
	for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		vals := h.Values(name)
		if len(vals) == 0 {
			continue
		}
		out := make([]string, len(vals))
		for i, v := range vals {
			var used bool
			out[i], used = amendCSP(v, base, nonce, withScript)
			usedNonce = usedNonce || used
		}
		h[name] = out
	}
	if isHead {
		return nil
	}
	inj := &injector{src: resp.Body, insert: c.markup(nonce), usedNonce: usedNonce, atEOF: c.document,
		amendMeta: func(pol string) (string, bool) { return amendPolicy(pol, base, nonce, withScript) }}
	if nonce != "" {
		inj.nonceAttr = ` nonce="` + nonce + `"`
	}
	resp.Body = inj
	return nil
}

// decodeBody replaces a gzip or deflate body by its decoded bytes (streaming).
func decodeBody(resp *http.Response) error {
	switch ce := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
		return nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			resp.Body.Close()
			return errCannotContain
		}
		resp.Body = readCloser{zr, resp.Body}
	case "deflate":
		zr, err := zlib.NewReader(resp.Body)
		if err != nil {
			resp.Body.Close()
			return errCannotContain
		}
		resp.Body = readCloser{zr, resp.Body}
	default:
		resp.Body.Close()
		return errCannotContain
	}
	resp.Header.Del("Content-Encoding")
	return nil
}

// readCloser reads from one reader and closes another (the network body).
type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

// wmCopies is how many times the watermark repeats: enough to cover a 4K
// screen at the stylesheet's spacing.
const wmCopies = 96

// markup is what goes into the page: the stylesheets, the watermark, the
// banner and the script, each only as the restrictions ask. Elements carry
// attributes only (no inline style or script), so no CSP change beyond
// the asset source is needed.
func (c *containment) markup(nonce string) []byte {
	text := html.EscapeString(c.email) + " · " + c.now.UTC().Format("2006-01-02 15:04 UTC")
	b := make([]byte, 0, wmCopies*(len(text)+13)+1024)
	b = append(b, `<link rel="stylesheet" href="`+mamURL("mam.css")+`">`...)
	if c.rs.Has(policy.BlockPrint) {
		b = append(b, `<link rel="stylesheet" href="`+mamURL("print.css")+`" media="print">`...)
	}
	if c.rs.Has(policy.Watermark) {
		b = append(b, `<portier-wm aria-hidden="true">`...)
		for range wmCopies {
			b = append(b, "<span>"...)
			b = append(b, text...)
			b = append(b, "</span>"...)
		}
		b = append(b, `</portier-wm>`...)
	}
	b = append(b, `<portier-banner role="note" lang="`+c.lang+`">`...)
	b = append(b, html.EscapeString(c.bannerText())...)
	b = append(b, `</portier-banner>`...)
	if c.rs&pageRestrictions != 0 {
		var block []string
		if c.rs.Has(policy.BlockClipboard) {
			block = append(block, "clipboard")
		}
		if c.rs.Has(policy.BlockPrint) {
			block = append(block, "print")
		}
		b = append(b, `<script src="`+mamURL("mam.js")+`" data-block="`+strings.Join(block, " ")+`"`...)
		if nonce != "" {
			b = append(b, ` nonce="`+nonce+`"`...)
		}
		b = append(b, ` defer></script>`...)
	}
	return b
}

package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/portier/portier/policy"
)

// forward sends an allowed request upstream with Portier's identity
// headers, under the decision's restrictions, and keeps re-evaluating it
// while it is open.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, req *request, dec policy.Decision) {
	rs := dec.Restrictions
	if rs != 0 {
		if which, refusal := refuseRequest(r, rs); refusal != "" {
			p.denyRestricted(w, r, req, dec, which, refusal)
			return
		}
	}
	if r.ContentLength > MaxRequestBody {
		p.tooLarge(w)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
	}
	ca, err := p.cache.get(p, req)
	if err != nil {
		p.opts.Log.Error("proxy: cannot sign the assertion", "err", err)
		p.unavailable(w, r, "Portier could not sign your identity for this application.")
		return
	}
	rt := req.rt
	if rt.handler != nil { // a built-in app reads the identity from the request
		for _, hv := range ca.headers {
			r.Header[hv.name] = hv.vals
		}
	}
	ctx := r.Context()
	upgrade := isUpgrade(r)
	if rt.timeout > 0 && !upgrade {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.timeout)
		defer cancel()
	}
	// Keep re-evaluating the request while it is open. An HTTP/1 request
	// is the only one on its connection, so the connection stands for it
	// (no per-request registration); HTTP/2 streams and upgrades are
	// registered one by one, with their own cancel.
	if cs := req.conn; cs != nil && cs.conn != nil && r.ProtoMajor == 1 && !upgrade {
		cs.active.Store(req)
		defer cs.active.Store(nil)
		p.live.watchConn(cs)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		id := p.live.add(req, cancel)
		defer p.live.remove(id)
		if upgrade {
			w = &hijackWatch{ResponseWriter: w, onHijack: func(c interface{ Close() error }) { p.live.attach(id, c) }}
		}
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	if rt.handler != nil && rs == 0 {
		rt.handler.ServeHTTP(w, r)
		return
	}
	rp := *rt.upstream
	if rt.handler != nil {
		// A restricted request to a built-in app: through its proxy, so
		// that the answer gets the response side of the restrictions.
		rp.Rewrite = func(pr *httputil.ProxyRequest) { pr.Out.Host = pr.In.Host }
	} else {
		rp.Rewrite = func(pr *httputil.ProxyRequest) { rewrite(pr, rt.to, ca.headers) }
	}
	if rs != 0 {
		p.restrict(&rp, r, req, dec)
	}
	rp.ServeHTTP(w, r)
}

// rewrite builds the upstream request: the client's headers (already
// stripped of X-Portier-* and Portier's cookie), Portier's identity
// headers and X-Forwarded-*, in one header map sized for all of them.
func rewrite(pr *httputil.ProxyRequest, to *url.URL, identity []headerValue) {
	pr.SetURL(to)
	pr.Out.Host = to.Host
	h := make(http.Header, len(pr.Out.Header)+len(identity)+4)
	for k, v := range pr.Out.Header {
		h[k] = v
	}
	for _, hv := range identity {
		h[hv.name] = hv.vals
	}
	// As httputil.ProxyRequest.SetXForwarded, with one allocation for the
	// three values (stripRequest has removed every spelling the client
	// sent). X-Real-IP is set too, to the same peer address, for upstreams
	// that read it (nginx's realip convention).
	xf := make([]string, 3)
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		xf[0] = ip
		h["X-Forwarded-For"] = xf[0:1:1]
		h["X-Real-Ip"] = xf[0:1:1]
	}
	xf[1] = pr.In.Host
	h["X-Forwarded-Host"] = xf[1:2:2]
	xf[2] = "http"
	if pr.In.TLS != nil {
		xf[2] = "https"
	}
	h["X-Forwarded-Proto"] = xf[2:3:3]
	pr.Out.Header = h
}

// MaxRequestBody is the largest request body the proxy forwards.
const MaxRequestBody = 32 << 20

func (p *Proxy) tooLarge(w http.ResponseWriter) {
	p.renderPage(w, http.StatusRequestEntityTooLarge, page{Title: "Request too large",
		Lead: "Portier forwards request bodies up to 32 MiB. Split the upload, or ask IT about a dedicated route."})
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// upstreamError answers when the upstream cannot be reached.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // access was revoked or the client went away
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		p.tooLarge(w)
		return
	}
	p.opts.Log.Warn("proxy: upstream error", "host", r.Host, "err", err)
	p.renderPage(w, http.StatusBadGateway, page{Title: "Application unreachable",
		Lead: "Portier let you in, but the application did not answer. Try again in a moment; if it persists, tell IT."})
}

package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/portier/portier/policy"
)

// forward sends an allowed request upstream with Portier's identity
// headers, under the decision's restrictions, and keeps re-evaluating it
// while it is open.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, req *request, dec policy.Decision) {
	rs := dec.Restrictions
	if rs != 0 {
		if refusal := refuseRequest(r, rs); refusal != "" {
			dec.Outcome = policy.Deny
			dec.Reasons = append(dec.Reasons, policy.Reason{Code: "restriction", Message: refusal,
				Remediation: "Use a managed device for this, or ask IT for full access."})
			p.deny(w, r, req, dec, http.StatusForbidden)
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
	for _, hv := range ca.headers {
		r.Header[hv.name] = hv.vals
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if req.rt.timeout > 0 && !isUpgrade(r) {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, req.rt.timeout)
		defer c2()
	}
	if rs != 0 {
		ctx = withRestrictions(ctx, rs)
	}
	id := p.live.add(req, cancel)
	defer p.live.remove(id)
	if isUpgrade(r) {
		w = &hijackWatch{ResponseWriter: w, onHijack: func(c interface{ Close() error }) { p.live.attach(id, c) }}
	}
	req.rt.handler.ServeHTTP(w, r.WithContext(ctx))
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
	if err == errDownloadBlocked {
		p.renderPage(w, http.StatusForbidden, page{Title: "Download blocked",
			Lead:    "On this device you can view this application but not download files from it.",
			Reasons: []policy.Reason{{Message: "Downloads are blocked on personal or restricted devices.", Remediation: "Download from a managed device."}}})
		return
	}
	p.opts.Log.Warn("proxy: upstream error", "host", r.Host, "err", err)
	p.renderPage(w, http.StatusBadGateway, page{Title: "Application unreachable",
		Lead: "Portier let you in, but the application did not answer. Try again in a moment; if it persists, tell IT."})
}

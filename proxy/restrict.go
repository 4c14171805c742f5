package proxy

import (
	"errors"
	"mime"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/portier/portier/policy"
)

// maxRestrictedUpload is the largest body accepted under block_uploads:
// ordinary form posts pass, file uploads do not.
const maxRestrictedUpload = 64 << 10

var errDownloadBlocked = errors.New("download blocked by restriction")

// refuseRequest applies the request side of restrictions and returns the
// restriction that refuses the request and why, or 0 and "".
func refuseRequest(r *http.Request, rs policy.Restrictions) (policy.Restrictions, string) {
	if rs.Has(policy.ReadOnly) && !rs.AllowsMethod(r.Method) {
		return policy.ReadOnly, "On this device this application is read-only: you can view pages but not change anything."
	}
	if rs.Has(policy.BlockUploads) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "multipart/form-data" || mt == "multipart/mixed" {
			return policy.BlockUploads, "Uploading files is blocked on this device."
		}
		if r.ContentLength > maxRestrictedUpload || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody) {
			return policy.BlockUploads, "Uploads larger than 64 KiB are blocked on this device."
		}
	}
	return 0, ""
}

// downloadTypes are refused under block_downloads even without an
// attachment disposition.
var downloadTypes = map[string]bool{
	"application/octet-stream": true, "application/zip": true, "application/x-zip-compressed": true,
	"application/pdf": true, "application/vnd.ms-excel": true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": true,
	"text/csv": true,
}

// restrictResponse applies the response side of restrictions: downloads,
// caching, and Portier's elements on HTML pages (see containment).
func restrictResponse(resp *http.Response, rs policy.Restrictions, c *containment, isHead bool) error {
	if rs.Has(policy.BlockDownloads) {
		cd := strings.ToLower(resp.Header.Get("Content-Disposition"))
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if strings.HasPrefix(strings.TrimSpace(cd), "attachment") || downloadTypes[mt] {
			resp.Body.Close()
			return errDownloadBlocked
		}
	}
	if rs.Has(policy.NoStore) {
		resp.Header.Set("Cache-Control", "no-store")
		resp.Header.Del("Expires")
		resp.Header.Set("Pragma", "no-cache")
	}
	return c.contain(resp, isHead)
}

// restrict sets up a restricted request's trip upstream: the request as
// containment needs it, the response side of the restrictions, and the
// pages for what they refuse.
func (p *Proxy) restrict(rp *httputil.ReverseProxy, r *http.Request, req *request, dec policy.Decision) {
	rs := dec.Restrictions
	prepareRestrictedRequest(r)
	c, isHead := newContainment(r, rs, dec.Rules, req.in.Email, req.in.Now), r.Method == http.MethodHead
	rp.ModifyResponse = func(resp *http.Response) error {
		stripPortierCookies(resp)
		return restrictResponse(resp, rs, c, isHead)
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		switch err {
		case errDownloadBlocked:
			p.renderPage(w, http.StatusForbidden, page{Title: "Download blocked",
				Lead:       "On this device you can view this application but not download files from it.",
				Reasons:    []policy.Reason{{Code: "restriction:block_downloads", Message: "Downloads are blocked on personal or restricted devices.", Remediation: "Download from a managed device."}},
				Restricted: restrictedNote(dec), Rules: dec.Rules})
		case errCannotContain:
			p.opts.Log.Warn("proxy: restricted page refused: upstream encoding not decodable", "host", r.Host)
			p.renderPage(w, http.StatusBadGateway, page{Title: "Page not shown",
				Lead:       "This page must carry Portier's restriction notice on this device, but the application sent it in a form Portier cannot read. Tell IT.",
				Restricted: restrictedNote(dec), Rules: dec.Rules})
		default:
			p.upstreamError(w, r, err)
		}
	}
}

// denyRestricted refuses a request that a restriction forbids, naming it;
// the deny page lists the decision's restrictions.
func (p *Proxy) denyRestricted(w http.ResponseWriter, r *http.Request, req *request, dec policy.Decision, which policy.Restrictions, why string) {
	dec.Outcome = policy.Deny
	dec.Reasons = append(dec.Reasons, policy.Reason{Code: "restriction:" + which.String(), Message: why,
		Remediation: "Use a managed device for this, or ask IT for full access."})
	p.deny(w, r, req, dec, http.StatusForbidden)
}

// restrictedNote is the deny page's line naming the restrictions in force
// and the rule that set them.
func restrictedNote(dec policy.Decision) string {
	s := "Restrictions on this device: " + strings.Join(dec.Restrictions.Names(), ", ")
	if len(dec.Rules) > 0 {
		s += " (rule " + strings.Join(dec.Rules, ", ") + ")"
	}
	return s + "."
}

package proxy

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/portier/portier/policy"
)

// maxRestrictedUpload is the largest body accepted under block_uploads:
// ordinary form posts pass, file uploads do not.
const maxRestrictedUpload = 64 << 10

var errDownloadBlocked = errors.New("download blocked by restriction")

// refuseRequest applies the request side of restrictions and returns why
// the request is refused, or "".
func refuseRequest(r *http.Request, rs policy.Restrictions) string {
	if rs.Has(policy.ReadOnly) && !rs.AllowsMethod(r.Method) {
		return "On this device this application is read-only: you can view pages but not change anything."
	}
	if rs.Has(policy.BlockUploads) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "multipart/form-data" || mt == "multipart/mixed" {
			return "Uploading files is blocked on this device."
		}
		if r.ContentLength > maxRestrictedUpload || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody) {
			return "Uploads larger than 64 KiB are blocked on this device."
		}
	}
	return ""
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

// restrictResponse applies the response side of restrictions.
func restrictResponse(resp *http.Response, rs policy.Restrictions) error {
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
	return nil
}

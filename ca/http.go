package ca

import (
	"net/http"
	"strconv"
)

// RootsHandler serves RootsPEM (mount at /ca/roots.pem) as
// application/x-pem-file, for GET and HEAD.
func (c *CA) RootsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/x-pem-file")
		h.Set("Content-Length", strconv.Itoa(len(c.rootsPEM)))
		h.Set("Cache-Control", "public, max-age=3600")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(c.rootsPEM)
	})
}

// CRLHandler serves the DER CRL (mount at /ca/crl) as application/pkix-crl,
// for GET and HEAD. When no CRL can be produced it answers 503 and logs why.
func (c *CA) CRLHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOrHead(w, r) {
			return
		}
		der, err := c.CRL(r.Context())
		if err != nil {
			c.log.Error("ca: cannot serve the CRL", "err", err)
			http.Error(w, "CRL temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/pkix-crl")
		h.Set("Content-Length", strconv.Itoa(len(der)))
		// Short: a revocation must reach relying parties quickly.
		h.Set("Cache-Control", "public, max-age=60")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(der)
	})
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

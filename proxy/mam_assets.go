package proxy

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
)

// mamPrefix is the path, on every route host, under which Portier serves
// the stylesheets and script it adds to restricted pages. Portier answers
// every path under it itself (unknown ones with 404), so a
// Content-Security-Policy source naming this prefix allows nothing the
// application serves.
const mamPrefix = "/.portier/mam/"

//go:embed mamassets/mam.css mamassets/print.css mamassets/mam.js
var mamFiles embed.FS

// mamAsset is one embedded file with its content type and the version
// query that changes when the file does (so it can be cached for long).
type mamAsset struct {
	body    []byte
	ctype   string
	version string
}

// mamAssets are the files under mamPrefix, by name. Built once from the
// embedded files; never modified.
var mamAssets = func() map[string]mamAsset {
	m := map[string]mamAsset{}
	for name, ct := range map[string]string{"mam.css": "text/css; charset=utf-8", "print.css": "text/css; charset=utf-8",
		"mam.js": "text/javascript; charset=utf-8"} {
		b, err := mamFiles.ReadFile("mamassets/" + name)
		if err != nil {
			panic(err) // embedded above: cannot happen
		}
		sum := sha256.Sum256(b)
		m[name] = mamAsset{body: b, ctype: ct, version: hex.EncodeToString(sum[:6])}
	}
	return m
}()

// mamURL is the path of an asset with its version query.
func mamURL(name string) string { return mamPrefix + name + "?v=" + mamAssets[name].version }

// serveMAMAsset answers a request under mamPrefix. The files are public
// (the same for everyone), so no session is needed.
func serveMAMAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := mamAssets[strings.TrimPrefix(r.URL.Path, mamPrefix)]
	if !ok {
		http.Error(w, "404 not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "public, max-age=86400")
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

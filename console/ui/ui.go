// Package ui is the console's browser side: the embedded page templates
// (one layout, one template per view), the message catalogue in every
// language the console speaks, and the static assets (CSS and one small
// script) served under content-hashed URLs. Every console page is rendered
// through Render, so every page gets the same layout, language and assets.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates static messages
var files embed.FS

// AssetPrefix is where the static assets are served: AssetPrefix + hash +
// "/" + name.
const AssetPrefix = "/static/"

// UI renders the console's pages and serves their assets.
type UI struct {
	views  map[string]*template.Template
	assets map[string]asset // by name
	cat    *Catalogue
}

type asset struct {
	body        []byte
	hash, ctype string
}

// New parses the embedded templates and catalogue. It fails only when the
// binary was built with a broken template or catalogue (tests catch that).
func New() (*UI, error) {
	u := &UI{views: map[string]*template.Template{}, assets: map[string]asset{}}
	var err error
	if u.cat, err = loadCatalogue(); err != nil {
		return nil, err
	}
	static, _ := fs.ReadDir(files, "static")
	for _, e := range static {
		b, err := files.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		u.assets[e.Name()] = asset{body: b, hash: hex.EncodeToString(sum[:6]), ctype: contentType(e.Name())}
	}
	layout, err := files.ReadFile("templates/layout.html")
	if err != nil {
		return nil, err
	}
	views, _ := fs.ReadDir(files, "templates/views")
	for _, e := range views {
		b, err := files.ReadFile("templates/views/" + e.Name())
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(e.Name(), ".html")
		t, err := template.New("layout").Funcs(template.FuncMap{"asset": u.AssetURL}).Parse(string(layout))
		if err == nil {
			_, err = t.Parse(string(b))
		}
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		u.views[name] = t
	}
	return u, nil
}

// Catalogue is the message catalogue the pages are written with.
func (u *UI) Catalogue() *Catalogue { return u.cat }

// Render writes view inside the layout. The page is rendered to memory
// first, so a template error never sends half a page.
func (u *UI) Render(w io.Writer, view string, p *Page) error {
	t, ok := u.views[view]
	if !ok {
		return fmt.Errorf("ui: no view %q", view)
	}
	if p.msgs == nil {
		p.msgs = u.cat.lang(p.Lang)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("ui: render %s: %w", view, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// AssetURL is the content-hashed URL of a static asset: it changes when
// the file does, so browsers may cache it for a year.
func (u *UI) AssetURL(name string) string {
	a, ok := u.assets[name]
	if !ok {
		return AssetPrefix + "missing/" + name
	}
	return AssetPrefix + a.hash + "/" + name
}

// ServeAsset serves GET /static/<hash>/<name>: long-cached when the hash
// is the current one, 404 otherwise (an old page asking for an old file
// gets nothing stale).
func (u *UI) ServeAsset(w http.ResponseWriter, hash, name string) {
	a, ok := u.assets[path.Base(name)]
	if !ok || a.hash != hash {
		http.NotFound(w, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(a.body)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	}
	return "application/octet-stream"
}

package ui

import (
	"bytes"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestCatalogueHasEveryKeyInEveryLanguage: the languages have the same
// keys, none empty, and the same fmt verbs.
func TestCatalogueHasEveryKeyInEveryLanguage(t *testing.T) {
	u, err := New()
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`%[sdv]`)
	en := u.Catalogue().msgs[Languages[0]]
	for _, l := range Languages[1:] {
		other := u.Catalogue().msgs[l]
		for k, v := range en {
			o, ok := other[k]
			switch {
			case !ok:
				t.Errorf("%s lacks %q", l, k)
			case strings.TrimSpace(o) == "" || strings.TrimSpace(v) == "":
				t.Errorf("%q is empty in en or %s", k, l)
			case strings.Join(verbs.FindAllString(v, -1), "") != strings.Join(verbs.FindAllString(o, -1), ""):
				t.Errorf("%q: en and %s format different values: %q / %q", k, l, v, o)
			}
		}
		for k := range other {
			if _, ok := en[k]; !ok {
				t.Errorf("%s has %q, which en lacks", l, k)
			}
		}
	}
}

// TestEveryTemplateKeyExists: every catalogue key a template names
// literally ({{.T "key"}}) or by a known prefix exists.
func TestEveryTemplateKeyExists(t *testing.T) {
	u, err := New()
	if err != nil {
		t.Fatal(err)
	}
	lit := regexp.MustCompile(`\.T "([^"]+)"`)
	n := 0
	err = fs.WalkDir(files, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := files.ReadFile(path)
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			n++
			if _, ok := u.Catalogue().msgs["en"][m[1]]; !ok {
				t.Errorf("%s uses %q, which is not in the catalogue", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Errorf("found only %d keys in the templates", n)
	}
	// Keys built in templates: the home's app states.
	for _, s := range []string{"allowed", "restricted", "enroll", "step-up", "denied"} {
		if _, ok := u.Catalogue().msgs["en"]["home.state."+s]; !ok {
			t.Errorf("no home.state.%s", s)
		}
	}
}

func TestPick(t *testing.T) {
	for h, want := range map[string]string{
		"": "en", "fr": "fr", "fr-CA": "fr", "FR-fr,en;q=0.8": "fr", "en-US,fr;q=0.9": "en",
		"de-DE,fr;q=0.7,en;q=0.5": "fr", "de,it": "en", "en;q=0.2,fr;q=0.8": "fr", "fr;q=bad": "en",
		"fr-CA,fr;q=0.9": "fr", "de,fr;q=0.5,en;q=0.8": "en", "fr;q=0": "en", "EN-gb,FR": "en",
	} {
		if got := Pick(h); got != want {
			t.Errorf("Pick(%q) = %s, want %s", h, got, want)
		}
	}
}

// TestLayout renders a view in each language: the page's language and
// translated title, the stylesheet as its hashed asset, the script only
// when asked for, and no inline script or style.
func TestLayout(t *testing.T) {
	u, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range Languages {
		for _, script := range []bool{false, true} {
			var buf bytes.Buffer
			p := &Page{Lang: l, TitleKey: "title.error.404", Script: script, Data: struct{ Message string }{"gone"}}
			if err := u.Render(&buf, "error", p); err != nil {
				t.Fatal(err)
			}
			body := buf.String()
			if !strings.Contains(body, `<html lang="`+l+`">`) || !strings.Contains(body, "<h1>"+u.Catalogue().T(l, "title.error.404")+"</h1>") ||
				!strings.Contains(body, `href="`+u.AssetURL("portier.css")+`"`) || strings.Contains(body, "<style") || strings.Contains(body, "<script>") ||
				strings.Contains(body, u.AssetURL("portier.js")) != script {
				t.Errorf("%s (script %v):\n%s", l, script, body)
			}
		}
	}
	if err := u.Render(&bytes.Buffer{}, "no-such-view", &Page{}); err == nil {
		t.Error("an unknown view rendered")
	}
}

// TestAssetsAreHashedAndLongCached: the current hash is served for a
// year, any other is 404.
func TestAssetsAreHashedAndLongCached(t *testing.T) {
	u, err := New()
	if err != nil {
		t.Fatal(err)
	}
	url := u.AssetURL("portier.js")
	parts := strings.Split(strings.TrimPrefix(url, AssetPrefix), "/")
	rec := httptest.NewRecorder()
	u.ServeAsset(rec, parts[0], parts[1])
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Cache-Control"), "max-age=31536000") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(rec.Body.String(), "navigator.credentials") {
		t.Errorf("current asset: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	u.ServeAsset(rec, "000000000000", parts[1])
	if rec.Code != 404 {
		t.Errorf("stale hash: %d", rec.Code)
	}
}

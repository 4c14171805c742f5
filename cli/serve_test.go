package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeDefaultFirstRunAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	in := start(t, dir, nil)
	out := in.stdout.String()
	for _, want := range []string{"Console:            https://localhost:" + in.port, "Set-up link (once): https://localhost:" + in.port + "/setup?token=", "Demo app:"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	fp := bannerFingerprint(out)
	for _, p := range []string{"ca/root.key", "ca/intermediate.key", "portier.db"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	resp, body := in.do("GET", "/readyz", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ready"`) {
		t.Errorf("readyz = %d %s", resp.StatusCode, body)
	}
	resp, _ = in.do("GET", "/ca/crl", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Errorf("crl = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if code := in.stop(); code != 0 {
		t.Fatalf("graceful stop exited %d: %s", code, in.stderr)
	}

	again := start(t, dir, nil)
	if got := bannerFingerprint(again.stdout.String()); got != fp {
		t.Errorf("restart changed the root fingerprint: %s -> %s", fp, got)
	}
}

func TestSetupLinkCreatesOwnerOnce(t *testing.T) {
	in := start(t, t.TempDir(), nil)
	_, link, _ := strings.Cut(in.stdout.String(), "Set-up link (once): ")
	link, _, _ = strings.Cut(link, "\n")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	secret := u.Query().Get("token")
	resp, body := in.do("GET", "/setup?token="+url.QueryEscape(secret), "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Create owner") {
		t.Fatalf("setup form = %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("setup page CSP = %q", csp)
	}
	post := func(pw string) (*http.Response, string) {
		form := url.Values{"token": {secret}, "email": {"owner@example.com"}, "password": {pw}}
		resp, err := in.client.PostForm(in.url("/setup"), form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp, b.String()
	}
	if resp, body := post("short"); resp.StatusCode != 400 || !strings.Contains(body, "at least 12") {
		t.Errorf("short password: %d %s", resp.StatusCode, body)
	}
	resp, body = post("a long enough password")
	if resp.StatusCode != 200 {
		t.Fatalf("setup = %d %s", resp.StatusCode, body)
	}
	_, tok, _ := strings.Cut(body, `<code id="token">`)
	tok, _, _ = strings.Cut(tok, "</code>")
	resp, body = in.do("GET", "/api/v1/whoami", tok, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"role":"owner"`) {
		t.Errorf("whoami with the set-up token = %d %s", resp.StatusCode, body)
	}
	if resp, body := post("a long enough password"); resp.StatusCode != 404 || !strings.Contains(body, "already used") {
		t.Errorf("second use of the set-up link = %d %s", resp.StatusCode, body)
	}
	resp, body = in.do("GET", "/api/v1/audit", tok, "")
	if !strings.Contains(body, "setup.owner_created") {
		t.Errorf("audit lacks the set-up: %d %s", resp.StatusCode, body)
	}
}

func TestBootstrapTokenAndAPI(t *testing.T) {
	secret := strings.Repeat("s", 40)
	in := start(t, t.TempDir(), map[string]string{"PORTIER_BOOTSTRAP_TOKEN": secret})
	if strings.Contains(in.stdout.String(), "Set-up link") {
		t.Error("a set-up link was printed although a bootstrap token was given")
	}
	if strings.Contains(in.stderr.String(), secret) || strings.Contains(in.stdout.String(), secret) {
		t.Error("the bootstrap token was logged")
	}
	resp, body := in.do("POST", "/api/v1/tokens", secret, `{"name":"ci","role":"auditor","ttl":"1h"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create token = %d %s", resp.StatusCode, body)
	}
	var created struct {
		Secret string              `json:"secret"`
		Token  struct{ ID string } `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Secret == "" {
		t.Fatalf("create token body %s: %v", body, err)
	}
	if resp, _ := in.do("POST", "/api/v1/tokens", created.Secret, `{"name":"x","role":"owner"}`); resp.StatusCode != 403 {
		t.Errorf("auditor creating a token = %d, want 403", resp.StatusCode)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"name":"x","role":"king"}`, "role"},
		{`{"name":"x","role":"admin","ttl":"soon"}`, "ttl"},
		{`{"name":5,"role":"admin"}`, "name"},
		{`{"name":"x","role":"admin","colour":"red"}`, "colour"},
	} {
		resp, body := in.do("POST", "/api/v1/tokens", secret, tc.body)
		if resp.StatusCode != 400 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, resp.StatusCode, body, tc.field)
		}
	}
	if resp, _ := in.do("POST", "/api/v1/tokens", secret, `{"name":"`+strings.Repeat("x", 2<<20)+`"}`); resp.StatusCode != 413 {
		t.Errorf("2 MiB body = %d, want 413", resp.StatusCode)
	}
	if resp, _ := in.do("DELETE", "/api/v1/tokens/"+created.Token.ID, secret, ""); resp.StatusCode != 204 {
		t.Errorf("delete token = %d", resp.StatusCode)
	}
	if resp, _ := in.do("GET", "/api/v1/whoami", created.Secret, ""); resp.StatusCode != 401 {
		t.Errorf("deleted token still works: %d", resp.StatusCode)
	}
}

func TestUnknownHostIs404(t *testing.T) {
	in := start(t, t.TempDir(), nil)
	req, _ := http.NewRequest("GET", in.url("/"), nil)
	req.Host = "elsewhere.example.com"
	resp, err := in.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown host = %d, want 404", resp.StatusCode)
	}
}

package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/identity/identitytest"
)

const uaIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestAgentDownload: /download/agent/{os}-{arch} serves the server's own
// executable for its own platform and the configured directory's
// portier-{os}-{arch}[.exe] for others, as attachments with their SHA-256;
// anything else is a 404 naming what is available, and no name reaches
// outside the directory.
func TestAgentDownload(t *testing.T) {
	dir := t.TempDir()
	win := []byte("MZ a Windows agent")
	if err := os.WriteFile(filepath.Join(dir, "portier-windows-amd64.exe"), win, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "portier-secret"), []byte("not an agent"), 0o644); err != nil {
		t.Fatal(err)
	}
	con := New(Options{Store: identitytest.OpenStore(t), Log: slog.New(slog.DiscardHandler), Clock: time.Now, ExternalURL: extURL,
		Roots: http.NotFoundHandler(), CRL: http.NotFoundHandler(), Ready: func(context.Context) error { return nil },
		AgentDownloadsDir: dir})
	srv := httptest.NewTLSServer(con)
	t.Cleanup(srv.Close)
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	exe, err := os.Executable()
	if err != nil {
		t.Skip("no executable path on this platform")
	}
	own, _ := os.ReadFile(exe)
	self := runtime.GOOS + "-" + runtime.GOARCH
	resp, body := get("/download/agent/" + self)
	if resp.StatusCode != 200 || !bytesEqual(body, own) || resp.Header.Get("X-Checksum-Sha256") != sha256Hex(own) ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="portier"` || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("own platform %s = %d, %d bytes (want %d), headers %v", self, resp.StatusCode, len(body), len(own), resp.Header)
	}
	resp, body = get("/download/agent/windows-amd64")
	if resp.StatusCode != 200 || string(body) != string(win) || resp.Header.Get("X-Checksum-Sha256") != sha256Hex(win) ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="portier.exe"` {
		t.Fatalf("windows-amd64 from the directory = %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = get("/download/agent/plan9-mips")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `no agent for "plan9-mips"`) ||
		!strings.Contains(string(body), self+", windows-amd64") {
		t.Fatalf("missing platform = %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"..%2Fportier-secret", "..-secret", "%2e%2e-secret", "windows-amd64.exe", "linux-amd64%2F..", "WINDOWS-AMD64", "-", "windows-amd64%00"} {
		resp, body = get("/download/agent/" + p)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "not an agent") {
			t.Errorf("%q = %d %q, want 404", p, resp.StatusCode, body)
		}
	}
}

func bytesEqual(a, b []byte) bool { return len(a) == len(b) && string(a) == string(b) }

// TestEnrollPageAgentDownload: a computer's enrollment page links to the
// agent for its platform with the SHA-256, next to the agent command; a
// phone's page offers no download but the browser (passkey) path.
func TestEnrollPageAgentDownload(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the test's User-Agent names a Linux x86_64 computer")
	}
	e := newEnv(t)
	e.withEnrollment(t)
	e.addUser(t, "ada@example.com", pw, false)
	b := e.browser(t)
	b.signInPassword("ada@example.com", pw, "/enroll")
	exe, _ := os.Executable()
	own, _ := os.ReadFile(exe)

	pc := b.getAs(extURL+"/enroll?code=ABCDE-FGHIJ", uaLinux)
	if pc.StatusCode != 200 || !strings.Contains(pc.body, `href="/download/agent/linux-amd64"`) ||
		!strings.Contains(pc.body, "Download the Portier agent for this Linux computer") || !strings.Contains(pc.body, sha256Hex(own)) ||
		!strings.Contains(pc.body, "agent enroll --server") {
		t.Fatalf("Linux code page:\n%s", pc.body)
	}
	if form := b.getAs(extURL+"/enroll", uaLinux); !strings.Contains(form.body, `href="/download/agent/linux-amd64"`) {
		t.Errorf("Linux enrollment form has no download link:\n%s", form.body)
	}
	for _, path := range []string{"/enroll", "/enroll?code=ABCDE-FGHIJ"} {
		phone := b.getAs(extURL+path, uaIPhone)
		if phone.StatusCode != 200 || strings.Contains(phone.body, "/download/agent/") || !strings.Contains(phone.body, "not on phones or tablets") {
			t.Errorf("iPhone %s:\n%s", path, phone.body)
		}
	}
	if phone := b.getAs(extURL+"/enroll", uaIPhone); !strings.Contains(phone.body, `data-webauthn="enroll_device"`) {
		t.Errorf("iPhone enrollment page does not offer the passkey path:\n%s", phone.body)
	}
}

package console

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/enrollment"
)

// TestAgentProtocolVersion: an agent of another major protocol version is
// refused with a 400 saying which side to upgrade, before its body is read
// (its enrollment code stays unused); an agent sending 1.x or no header at
// all (agents older than the header) is served; every answer names the
// server's version.
func TestAgentProtocolVersion(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	code, body := e.call(t, RoleAdmin, "POST", "/api/v1/enrollment/codes", `{"ownership":"corporate"}`, nil)
	if code != http.StatusCreated {
		t.Fatalf("create code: %d %s", code, body)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	req, _ := json.Marshal(agentwire.EnrollRequest{Code: jsonField(body, "code"),
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), Device: agentwire.DeviceInfo{Platform: "linux"}})
	enroll := func(version string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/v1/agent/enroll", strings.NewReader(string(req)))
		if version != "-" {
			r.Header.Set(agentwire.VersionHeader, version)
		}
		rec := httptest.NewRecorder()
		e.con.ServeHTTP(rec, r)
		return rec
	}
	for _, tc := range []struct{ version, want string }{
		{"2.0", "upgrade the Portier server"},
		{"0.9", "upgrade the Portier agent"},
		{"latest", "MAJOR.MINOR"},
	} {
		rec := enroll(tc.version)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("agent protocol %q: %d %s, want 400 saying %q", tc.version, rec.Code, rec.Body.String(), tc.want)
		}
		if got := rec.Header().Get(agentwire.VersionHeader); got != agentwire.Version {
			t.Errorf("agent protocol %q: the refusal announces %q", tc.version, got)
		}
	}
	// The refused requests did not use the code: an agent of this protocol
	// (here one older than the header) still enrolls with it.
	rec := enroll("-")
	if rec.Code != http.StatusCreated {
		t.Fatalf("agent without the header: %d %s", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get(agentwire.VersionHeader); got != agentwire.Version {
		t.Errorf("the answer announces %q, want %q", got, agentwire.Version)
	}
	var cert agentwire.Certificate
	if err := json.Unmarshal(rec.Body.Bytes(), &cert); err != nil || cert.DeviceID == "" || cert.Ownership != "corporate" {
		t.Errorf("enroll answer = %+v, %v", cert, err)
	}
	if rec := enroll("1.3"); rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), "protocol") {
		t.Errorf("a newer minor version is refused: %s", rec.Body.String())
	}
}

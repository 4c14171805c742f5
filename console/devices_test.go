package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// mdmEnv is a console with the device registry, on a real store, CA and
// posture engine, called in-process.
type mdmEnv struct {
	st  *store.Store
	ca  *ca.CA
	svc *enrollment.Service
	con *Console
}

// roleSecret is the API token secret of each role in mdmEnv.
func roleSecret(role string) string { return "secret-of-the-" + role + "-role-for-tests" }

func newMDMEnv(t *testing.T, cfg enrollment.Config) *mdmEnv {
	t.Helper()
	return newMDMEnvOn(t, storetest.OpenBolt(t), filepath.Join(t.TempDir(), "ca"), cfg)
}

// newMDMEnvOn is newMDMEnv on a given store, with the CA's keys in caDir
// (two replicas on one shared store share it).
func newMDMEnvOn(t *testing.T, st *store.Store, caDir string, cfg enrollment.Config) *mdmEnv {
	t.Helper()
	e := &mdmEnv{st: st}
	var err error
	e.ca, err = ca.New(context.Background(), ca.Options{Store: e.st, Keys: &ca.FileKeyStore{Dir: caDir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ca.Close() })
	if e.svc, err = enrollment.New(enrollment.Options{Store: e.st, CA: e.ca, ExternalURL: "https://localhost", Config: cfg}); err != nil {
		t.Fatal(err)
	}
	eng, err := posture.New(posture.Options{Store: e.st, Clock: time.Now, Actions: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SetPosture(eng)
	for _, role := range []string{RoleOwner, RoleAdmin, RoleHelpdesk, RoleAuditor, "nobody"} {
		tok := &store.Token{ID: "tok_" + role, Role: role, SecretHash: identity.HashSecret(roleSecret(role)), CreatedAt: time.Now()}
		if err := e.st.Write(context.Background(), store.Put(tok)); err != nil {
			t.Fatal(err)
		}
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	e.con = New(Options{Store: e.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: time.Now, ExternalURL: "https://localhost",
		Roots: ok, CRL: ok, Ready: func(context.Context) error { return nil }, JWKS: func() []byte { return []byte("{}") },
		Enrollment: e.svc})
	return e
}

// call sends one request as role ("" = no token) with an optional client
// certificate chain, and returns the status and body.
func (e *mdmEnv) call(t *testing.T, role, method, path, body string, chain []*x509.Certificate, hdr ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+roleSecret(role))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if chain != nil {
		req.TLS = &tls.ConnectionState{PeerCertificates: chain}
	}
	rec := httptest.NewRecorder()
	e.con.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// enroll enrolls a device through the agent API and returns its chain.
func (e *mdmEnv) enroll(t *testing.T, ownership string) (string, []*x509.Certificate) {
	t.Helper()
	code, body := e.call(t, RoleAdmin, "POST", "/api/v1/enrollment/codes", `{"ownership":"`+ownership+`"}`, nil)
	if code != http.StatusCreated {
		t.Fatalf("create code: %d %s", code, body)
	}
	var c struct{ Code string }
	_ = json.Unmarshal([]byte(body), &c)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	req, _ := json.Marshal(agentwire.EnrollRequest{Code: c.Code, CSR: csr,
		Device: agentwire.DeviceInfo{Platform: "linux", WorkProfile: ownership == "byod"}})
	code, body = e.call(t, "", "POST", "/api/v1/agent/enroll", string(req), nil)
	if code != http.StatusCreated {
		t.Fatalf("enroll: %d %s", code, body)
	}
	var ans struct {
		DeviceID    string `json:"device_id"`
		Certificate string `json:"certificate"`
	}
	_ = json.Unmarshal([]byte(body), &ans)
	var chain []*x509.Certificate
	rest := []byte(ans.Certificate)
	for {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		crt, _ := x509.ParseCertificate(blk.Bytes)
		chain = append(chain, crt)
	}
	return ans.DeviceID, chain
}

// mdmRoutes is every device-registry route, with the permission it needs.
var mdmRoutes = map[string]Permission{
	"POST /api/v1/enrollment/codes":       PermEnrollWrite,
	"GET /api/v1/enrollment/codes":        PermEnrollRead,
	"DELETE /api/v1/enrollment/codes/:id": PermEnrollWrite,
	"POST /api/v1/enrollment/tokens":      PermEnrollWrite,
	"POST /api/v1/enrollment/expected":    PermEnrollWrite,
	"GET /api/v1/enrollment/expected":     PermEnrollRead,
	"GET /api/v1/devices/export":          PermDevicesRead,
	"GET /api/v1/devices":                 PermDevicesRead,
	"GET /api/v1/devices/:id":             PermDevicesRead,
	"GET /api/v1/devices/:id/privacy":     PermDevicesRead,
	"GET /api/v1/devices/:id/actions":     PermDevicesRead,
	"POST /api/v1/devices/:id/actions":    PermDevicesAct,
	"POST /api/v1/devices/:id/release":    PermDevicesAct,
	"POST /api/v1/devices/:id/retire":     PermDevicesWipe,
	"GET /api/v1/kpis":                    PermKPIRead,
	"GET /api/v1/kpis/history":            PermKPIRead,
}

// agentRoutes are authenticated by the device certificate.
var agentRoutes = map[string]bool{
	"POST /api/v1/agent/renew": true, "POST /api/v1/agent/posture": true, "GET /api/v1/agent/profile": true,
	"GET /api/v1/agent/actions": true, "POST /api/v1/agent/actions/:id/result": true,
	"POST /api/v1/agent/browser-certificates": true,
}

// TestDeviceRoutesAuthorization covers every route the registry adds:
// no token → 401; a role without the permission → 403 (every role lacking
// it, and a role with no permissions at all); agent routes: no client
// certificate, a certificate from another CA, and a revoked one → 401.
func TestDeviceRoutesAuthorization(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	other := newMDMEnv(t, enrollment.Config{})
	_, foreign := other.enroll(t, "corporate")
	id, chain := e.enroll(t, "corporate")
	seen := map[string]bool{}
	for _, rt := range e.con.Routes() {
		key := rt.Method + " " + rt.Path
		path := strings.NewReplacer(":id", id).Replace(rt.Path)
		if perm, ok := mdmRoutes[key]; ok {
			seen[key] = true
			if code, body := e.call(t, "", rt.Method, path, "{}", nil); code != http.StatusUnauthorized {
				t.Errorf("%s without a token: %d %s", key, code, body)
			}
			for _, role := range []string{RoleOwner, RoleAdmin, RoleHelpdesk, RoleAuditor, "nobody"} {
				if perms[role][perm] {
					continue
				}
				if code, body := e.call(t, role, rt.Method, path, "{}", nil); code != http.StatusForbidden {
					t.Errorf("%s as %s (no %s): %d %s", key, role, perm, code, body)
				}
			}
			continue
		}
		if agentRoutes[key] {
			seen[key] = true
			for name, c := range map[string][]*x509.Certificate{"no certificate": nil, "foreign certificate": foreign} {
				if code, body := e.call(t, "", rt.Method, strings.Replace(path, id, "act_x", 1), "{}", c); code != http.StatusUnauthorized {
					t.Errorf("%s with %s: %d %s", key, name, code, body)
				}
			}
			if code, _ := e.call(t, RoleOwner, rt.Method, path, "{}", nil); code != http.StatusUnauthorized {
				t.Errorf("%s: an API token opened an agent route (%d)", key, code)
			}
		}
	}
	for key := range mdmRoutes {
		if !seen[key] {
			t.Errorf("route %s is not registered", key)
		}
	}
	for key := range agentRoutes {
		if !seen[key] {
			t.Errorf("route %s is not registered", key)
		}
	}
	// Destructive action types need devices:wipe besides devices:act.
	if code, body := e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"selective_wipe"}`, nil); code != http.StatusForbidden {
		t.Errorf("helpdesk selective wipe: %d %s", code, body)
	}
	if code, body := e.call(t, RoleHelpdesk, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"lock"}`, nil); code != http.StatusCreated {
		t.Errorf("helpdesk lock: %d %s", code, body)
	}
	// The device's own certificate opens the agent API until it is revoked.
	if code, body := e.call(t, "", "GET", "/api/v1/agent/profile", "", chain); code != http.StatusOK {
		t.Fatalf("profile with the device certificate: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"revoke"}`, nil); code != http.StatusCreated {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := e.call(t, "", "GET", "/api/v1/agent/profile", "", chain); code != http.StatusUnauthorized {
		t.Errorf("profile after revoke: %d %s", code, body)
	}
}

func TestDeviceAPIBehaviour(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	id, chain := e.enroll(t, "byod")
	// Idempotency: 201 then 200 with the same action.
	code, first := e.call(t, RoleAdmin, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"lock"}`, nil, "Idempotency-Key", "k-1")
	code2, second := e.call(t, RoleAdmin, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"lock"}`, nil, "Idempotency-Key", "k-1")
	if code != http.StatusCreated || code2 != http.StatusOK || jsonField(first, "id") != jsonField(second, "id") {
		t.Errorf("idempotent action: %d %s / %d %s", code, first, code2, second)
	}
	if code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"wipe"}`, nil); code != http.StatusConflict || !strings.Contains(body, "selective_wipe") {
		t.Errorf("BYOD wipe: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAdmin, "POST", "/api/v1/devices/"+id+"/actions", `{"type":"lock","params":{"reason":5}}`, nil); code != http.StatusBadRequest || jsonField(body, "field") != "params" {
		t.Errorf("malformed action: %d %s", code, body)
	}
	// Agent API inputs.
	big := `{"seq":1,"collected_at":"2026-01-01T00:00:00Z","signals":[],"pad":"` + strings.Repeat("x", enrollment.MaxReportBytes) + `"}`
	if code, body := e.call(t, "", "POST", "/api/v1/agent/posture", big, chain); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized posture: %d %.200s", code, body)
	}
	if code, body := e.call(t, "", "POST", "/api/v1/agent/posture", `{"seq":"x","collected_at":"2026-01-01T00:00:00Z","signals":[]}`, chain); code != http.StatusBadRequest || jsonField(body, "field") != "seq" {
		t.Errorf("malformed posture: %d %s", code, body)
	}
	if code, body := e.call(t, "", "GET", "/api/v1/agent/actions?wait=2h", "", chain); code != http.StatusBadRequest || jsonField(body, "field") != "wait" {
		t.Errorf("bad wait: %d %s", code, body)
	}
	code, body := e.call(t, "", "GET", "/api/v1/agent/actions?wait=0s", "", chain)
	if code != http.StatusOK || !strings.Contains(body, `"type":"lock"`) {
		t.Errorf("poll: %d %s", code, body)
	}
	if code, body := e.call(t, "", "POST", "/api/v1/agent/actions/act_nope/result", `{"status":"acknowledged"}`, chain); code != http.StatusNotFound {
		t.Errorf("result for an unknown action: %d %s", code, body)
	}
	if code, body := e.call(t, "", "POST", "/api/v1/agent/enroll", `{"code":"x","csr":7}`, nil); code != http.StatusBadRequest || jsonField(body, "field") != "csr" {
		t.Errorf("malformed enroll: %d %s", code, body)
	}
	// Expected-device CSV: line numbers in a 400.
	code, body = e.call(t, RoleAdmin, "POST", "/api/v1/enrollment/expected", "serial,model,platform,owner_email,department,ownership\nA1,,linux,,,corporate\n,,,,,\n", nil, "Content-Type", "text/csv")
	if code != http.StatusBadRequest || !strings.Contains(body, "line 3: serial is required") {
		t.Errorf("bad CSV: %d %s", code, body)
	}
	// Views.
	if code, body := e.call(t, RoleAuditor, "GET", "/api/v1/devices/"+id, "", nil); code != http.StatusOK || jsonField(body, "ownership") != "byod" {
		t.Errorf("device: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAuditor, "GET", "/api/v1/devices/"+id+"/privacy", "", nil); code != http.StatusOK || !strings.Contains(body, `"text"`) {
		t.Errorf("privacy: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAuditor, "GET", "/api/v1/kpis", "", nil); code != http.StatusOK || !strings.Contains(body, "enrollment_rate") {
		t.Errorf("kpis: %d %s", code, body)
	}
	if code, body := e.call(t, RoleAuditor, "GET", "/api/v1/devices/dev_none", "", nil); code != http.StatusNotFound {
		t.Errorf("unknown device: %d %s", code, body)
	}
	var viewed bool
	for _, a := range e.st.Audit() {
		viewed = viewed || (a.Action == "device.view" && a.Target == id && a.Actor == "token:tok_auditor")
	}
	if !viewed {
		t.Error("looking at a device is not in the audit log")
	}
}

func TestEnrollPageForQRCode(t *testing.T) {
	e := newMDMEnv(t, enrollment.Config{})
	code, body := e.call(t, "", "GET", "/enroll?code=ABCDE-FGHJK-MNPQR-STVWX-YZ012", "", nil)
	if code != http.StatusOK || !strings.Contains(body, "agent enroll --server https://localhost --code ABCDE-FGHJK-MNPQR-STVWX-YZ012") {
		t.Errorf("enroll page: %d %s", code, body)
	}
	if code, body := e.call(t, "", "GET", "/enroll?code=%3Cscript%3E", "", nil); strings.Contains(body, "<script>") || code != http.StatusOK {
		t.Errorf("enroll page escapes the code: %d", code)
	}
}

// jsonField reads a top-level (or error) string field of a JSON body.
func jsonField(body, name string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	if e, ok := m["error"].(map[string]any); ok {
		m = e
	}
	s, _ := m[name].(string)
	return s
}

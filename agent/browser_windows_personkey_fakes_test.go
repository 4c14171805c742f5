package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/console"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// fakePersonWindows answers certreq, certutil and PowerShell like one
// person's session on Windows: the pending requests of certreq -new (with
// their keys), Cert:\CurrentUser\My with the provider of each key, and
// Cert:\CurrentUser\CA.
type fakePersonWindows struct {
	t *testing.T
	// tpm: the Platform Crypto Provider can make keys.
	tpm bool
	// exportable makes the next accepted certificate's key exportable (a
	// provider that ignored Exportable = FALSE).
	exportable bool
	pending    map[string]fakeKey // by public key
	my         map[string]fakeKey // by thumbprint
	ca         map[string]bool
	cmds       []string
	infs       []string
	accepted   []*x509.Certificate
}

type fakeKey struct {
	key        *ecdsa.PrivateKey
	provider   string
	exportable bool
}

func newFakePerson(t *testing.T, tpm bool) *fakePersonWindows {
	return &fakePersonWindows{t: t, tpm: tpm, pending: map[string]fakeKey{}, my: map[string]fakeKey{}, ca: map[string]bool{}}
}

var (
	infProvider = regexp.MustCompile(`ProviderName = "([^"]*)"`)
	infSubject  = regexp.MustCompile(`Subject = "CN=([^"]*)"`)
	myThumb     = regexp.MustCompile(`My\\([0-9A-F]{40})'`)
	caThumb     = regexp.MustCompile(`CA\\([0-9A-F]{40})'`)
)

func pubID(k any) string { b, _ := x509.MarshalPKIXPublicKey(k); return string(b) }

func testdataOut(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "windows", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *fakePersonWindows) run(_ context.Context, c Command) ([]byte, error) {
	w.cmds = append(w.cmds, c.String())
	switch c.Path {
	case "certreq.exe":
		switch c.Args[0] {
		case "-new":
			inf, err := os.ReadFile(c.Args[3])
			if err != nil {
				w.t.Fatalf("certreq -new: %v", err)
			}
			w.infs = append(w.infs, string(inf))
			provider := infProvider.FindStringSubmatch(string(inf))[1]
			if provider == ProviderPlatform && !w.tpm {
				return testdataOut(w.t, "certreq-new-pcp-not-ready.txt"), exitError("exit status 2150170881")
			}
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: infSubject.FindStringSubmatch(string(inf))[1]}}, key)
			if err != nil {
				w.t.Fatal(err)
			}
			must(w.t, os.WriteFile(c.Args[4], pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}), 0o600))
			w.pending[pubID(&key.PublicKey)] = fakeKey{key: key, provider: provider}
			return testdataOut(w.t, "certreq-new-created.txt"), nil
		case "-accept":
			b, err := os.ReadFile(c.Args[3])
			if err != nil {
				w.t.Fatalf("certreq -accept: %v", err)
			}
			crt := parsePEMCerts(string(b))[0]
			w.accepted = append(w.accepted, crt)
			k, ok := w.pending[pubID(crt.PublicKey)]
			if !ok {
				return testdataOut(w.t, "certreq-accept-not-found.txt"), exitError("exit status 2148081668")
			}
			delete(w.pending, pubID(crt.PublicKey))
			k.exportable, w.exportable = w.exportable, false
			w.my[Thumbprint(crt)] = k
			return []byte("Installed Certificate:\r\n"), nil
		}
	case "certutil.exe":
		if strings.Join(c.Args[:3], " ") == "-user -addstore CA" {
			b, err := os.ReadFile(c.Args[3])
			if err != nil {
				w.t.Fatalf("certutil -addstore: %v", err)
			}
			w.ca[Thumbprint(parsePEMCerts(string(b))[0])] = true
			return testdataOut(w.t, "certutil-addstore-ca.txt"), nil
		}
	case "powershell.exe":
		script := c.Args[len(c.Args)-1]
		m := myThumb.FindStringSubmatch(script)
		switch {
		case m != nil && strings.Contains(script, "GetECDsaPrivateKey"):
			k, ok := w.my[m[1]]
			if !ok {
				return []byte("Get-Item : Cannot find path '" + windowsCertPath + `\` + m[1] + "' because it does not exist.\r\n"), exitError("exit status 1")
			}
			policy := "None"
			if k.exportable {
				policy = "AllowExport"
			}
			return []byte("True|" + k.provider + "|" + policy + "\r\n"), nil
		case m != nil && strings.Contains(script, "Remove-Item"):
			delete(w.my, m[1])
			for _, c := range caThumb.FindAllStringSubmatch(script, -1) {
				delete(w.ca, c[1])
			}
			return []byte("False\r\n"), nil
		}
	}
	w.t.Errorf("unexpected command %s", c)
	return nil, exitError("unexpected")
}

// fakeService answers the service's PowerShell commands (icacls, the task).
type fakeService struct {
	cmds []string
}

func (s *fakeService) run(_ context.Context, c Command) ([]byte, error) {
	script := c.Args[len(c.Args)-1]
	s.cmds = append(s.cmds, script)
	switch {
	case strings.Contains(script, "icacls"):
		return []byte("locked\r\n"), nil
	case strings.Contains(script, "Register-ScheduledTask"):
		return []byte("registered\r\n"), nil
	}
	return []byte("ordered\r\n"), nil
}

// started counts the Start-ScheduledTask commands for sid's task alone.
func (s *fakeService) started(sid string) int {
	n := 0
	for _, c := range s.cmds {
		if strings.Contains(c, `Start-ScheduledTask -TaskPath '\Portier\' -TaskName 'BrowserIdentity-`+sid+"'") {
			n++
		}
	}
	return n
}

// browserCertServer is the test server with POST
// /api/v1/agent/browser-certificates as the protocol describes it: the
// device of the client certificate (verified by the real CA), a
// certificate from the real CA for the CSR, carrying the person and the
// agent's statement of the key's protection.
type browserCertServer struct {
	*server
	mu   sync.Mutex
	reqs []agentwire.BrowserCertificateRequest
	// refuse answers with this status instead of issuing (0: issue).
	refuse int
}

func newBrowserCertServer(t *testing.T) *browserCertServer {
	t.Helper()
	s := &browserCertServer{server: &server{st: storetest.OpenBolt(t)}}
	ctx := context.Background()
	var err error
	s.ca, err = ca.New(ctx, ca.Options{Store: s.st, Keys: &ca.FileKeyStore{Dir: filepath.Join(t.TempDir(), "ca")}})
	must(t, err)
	t.Cleanup(func() { s.ca.Close() })
	s.svc, err = enrollment.New(enrollment.Options{Store: s.st, CA: s.ca, Config: enrollment.Config{}})
	must(t, err)
	eng, err := posture.New(posture.Options{Store: s.st, Clock: time.Now, Actions: s.svc})
	must(t, err)
	s.svc.SetPosture(eng)
	con := console.New(console.Options{Store: s.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: time.Now,
		ExternalURL: "https://127.0.0.1", Roots: s.ca.RootsHandler(), CRL: s.ca.CRLHandler(),
		Ready: func(context.Context) error { return nil }, JWKS: func() []byte { return nil }, Enrollment: s.svc})
	cert, err := s.ca.IssueServerTLS(ctx, []string{"127.0.0.1", "localhost"})
	must(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == browserCertificatePath && r.Method == http.MethodPost {
			s.issue(w, r)
			return
		}
		con.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *browserCertServer) issue(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		var b agentwire.ErrorBody
		b.Error.Code, b.Error.Message, b.Error.Field = "invalid", msg, "csr"
		_ = json.NewEncoder(w).Encode(b)
	}
	deviceID, _, err := s.ca.VerifyClient(r.TLS.PeerCertificates, time.Now())
	if err != nil {
		fail(http.StatusUnauthorized, "no device certificate")
		return
	}
	var req agentwire.BrowserCertificateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "malformed")
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	refuse := s.refuse
	s.mu.Unlock()
	if refuse != 0 {
		fail(refuse, "refused by the test")
		return
	}
	csr, err := ca.ParseCSR([]byte(req.CSR))
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	info := ca.KeyInfo{Protection: req.KeyProtection, Source: store.KeySourceAgent, Purpose: ca.PurposeBrowser, Person: req.Person}
	chain, err := s.ca.IssueDevice(r.Context(), csr, deviceID, info)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	var pemChain []byte
	for _, c := range chain {
		pemChain = append(pemChain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	leaf := chain[0]
	_ = json.NewEncoder(w).Encode(agentwire.Certificate{DeviceID: deviceID, Certificate: string(pemChain), NotAfter: leaf.NotAfter,
		RenewAfter: leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3), KeyProtection: req.KeyProtection,
		KeyProtectionSource: store.KeySourceAgent, State: "active"})
}

func (s *browserCertServer) requests() []agentwire.BrowserCertificateRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]agentwire.BrowserCertificateRequest(nil), s.reqs...)
}

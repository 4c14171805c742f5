package agent

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/console"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// server is Portier's console host in-process: a real store, CA, posture
// engine and enrollment service behind real mutual TLS.
type server struct {
	url string
	st  *store.Store
	ca  *ca.CA
	svc *enrollment.Service
	// lostResults is how many action result reports to refuse next with
	// 503, as a replica being killed would.
	lostResults atomic.Int32
}

var admin = enrollment.Actor{ID: "token:test"}

func newServer(t *testing.T, cfg enrollment.Config) *server {
	t.Helper()
	s := &server{st: storetest.OpenBolt(t)}
	ctx := context.Background()
	var err error
	s.ca, err = ca.New(ctx, ca.Options{Store: s.st, Keys: &ca.FileKeyStore{Dir: filepath.Join(t.TempDir(), "ca")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ca.Close() })
	if s.svc, err = enrollment.New(enrollment.Options{Store: s.st, CA: s.ca, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	eng, err := posture.New(posture.Options{Store: s.st, Clock: time.Now, Actions: s.svc})
	if err != nil {
		t.Fatal(err)
	}
	s.svc.SetPosture(eng)
	con := console.New(console.Options{Store: s.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: time.Now,
		ExternalURL: "https://127.0.0.1", Roots: s.ca.RootsHandler(), CRL: s.ca.CRLHandler(),
		Ready: func(context.Context) error { return nil }, JWKS: func() []byte { return nil }, Enrollment: s.svc})
	cert, err := s.ca.IssueServerTLS(ctx, []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/result") && s.lostResults.Add(-1) >= 0 {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
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

// code issues an enrollment code.
func (s *server) code(t *testing.T, ownership store.Ownership) string {
	t.Helper()
	ic, err := s.svc.CreateCode(context.Background(), admin, enrollment.CodeRequest{Ownership: ownership})
	if err != nil {
		t.Fatal(err)
	}
	return ic.Code
}

// queue asks for an action on a device.
func (s *server) queue(t *testing.T, deviceID, typ string, params map[string]string) *store.Action {
	t.Helper()
	a, _, err := s.svc.RequestAction(context.Background(), admin, deviceID, enrollment.ActionRequest{Type: typ, Params: params}, "")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fakeRunner records commands instead of running them.
type fakeRunner struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
}

func (r *fakeRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, strings.Join(append([]string{name}, args...), " "))
	return nil, r.fail[name]
}

func (r *fakeRunner) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// fakeCollect returns fixed signals, limited to what is allowed, and
// remembers what it was allowed.
type fakeCollect struct {
	mu      sync.Mutex
	allowed collect.Allowed
	runs    int
}

func (f *fakeCollect) collect(_ context.Context, allowed collect.Allowed) []collect.Signal {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed, f.runs = allowed, f.runs+1
	now := time.Now().UTC()
	var out []collect.Signal
	for _, s := range []collect.Signal{
		{Name: collect.OSVersion, Value: "12", Source: "/etc/os-release", CollectedAt: now},
		{Name: collect.DiskEncrypted, Value: true, Source: "lsblk", CollectedAt: now},
		{Name: collect.AppsInstalled, Value: []collect.App{{Name: "bash", Version: "5.2"}}, Source: "dpkg-query", CollectedAt: now},
	} {
		if allowed.Has(s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// enrolled enrolls an agent in a fresh state dir and opens it.
func enrolled(t *testing.T, s *server, ownership store.Ownership, run *fakeRunner, col *fakeCollect, wipe []string) (*Agent, string) {
	t.Helper()
	dir := t.TempDir()
	fp := s.ca.Fingerprint()
	_, err := Enroll(context.Background(), EnrollOptions{Server: s.url, Code: s.code(t, ownership), Fingerprint: fp,
		WorkProfile: ownership == store.OwnershipBYOD, StateDir: dir, Version: "test", KeyMode: KeyModeSoftware,
		Info: func(context.Context) agentwire.DeviceInfo {
			return agentwire.DeviceInfo{Platform: "linux", Hostname: "test-host"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformLinux, Runner: run, Collect: col.collect, WipeCommand: wipe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a, dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/portier/portier/identity/identitytest"
	"github.com/portier/portier/server"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// clusterConfig is one replica of a cluster: every replica has the same
// external URL (the load balancer's), its own listener and data dir, and
// the same PostgreSQL store.
const clusterConfig = `
external_url: https://localhost:%[1]s
listen: %[7]s
metrics_listen: "off"
data_dir: %[2]s
store: %[8]s
max_staleness: 2s
identity_providers:
  - id: mock
    type: oidc
    issuer: %[3]s
    client_id: %[4]s
    client_secret: %[5]s
    scopes: [openid, email, profile, groups]
    groups_claim: groups
routes:
  - {from: "https://app.localhost:%[1]s", to: "%[6]s", policy: staff, idp: mock}
  - {from: "https://open.localhost:%[1]s", to: "%[6]s", policy: signed-in, idp: mock}
policies:
  - id: staff
    allow:
      and:
        - group: {has: staff}
        - device: {trust: {gte: medium}}
  - id: signed-in
    allow:
      group: {has: staff}
`

const clusterToken = "cluster-test-bootstrap-token-0123456789abcdef"

// cluster is two replicas on one PostgreSQL database behind a round-robin
// load balancer without stickiness; replica B reaches the database through
// a relay the test can silence.
type cluster struct {
	t        *testing.T
	port     string // the load balancer's: the external URL's port
	lb       *roundRobin
	idp      *identitytest.IdP
	upstream *clusterApp
	relay    *pgtest.Relay
	dsn      string
	a, b     *server.Server
	stops    map[*server.Server]func() // stop a replica gracefully
}

// clusterApp is the application behind the routes.
type clusterApp struct {
	url string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, idp: identitytest.StartIdP(t), relay: pgtest.NewRelay(t, u.Host), dsn: dsn,
		stops: map[*server.Server]func(){}}
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from upstream")
	})}
	go app.Serve(up)
	t.Cleanup(func() { app.Close() })
	c.upstream = &clusterApp{url: "http://" + up.Addr().String()}

	c.lb = newRoundRobin(t)
	c.port = c.lb.port()
	c.a = c.start(dsn)
	c.b = c.start(c.relay.DSN(dsn))
	c.lb.backends = []string{c.a.Addr(), c.b.Addr()}
	return c
}

// start starts one replica on dsn.
func (c *cluster) start(dsn string) *server.Server {
	t := c.t
	yaml := fmt.Sprintf(clusterConfig, c.port, filepath.Join(t.TempDir(), "data"), c.idp.Issuer(), c.idp.ClientID,
		c.idp.ClientSecret, c.upstream.url, "127.0.0.1:0", dsn)
	cfg, pols := loadConfig(t, "cluster.yaml", yaml)
	env := map[string]string{"PORTIER_CA_KEY_PASSWORD": "correct horse battery staple, twice over", "PORTIER_BOOTSTRAP_TOKEN": clusterToken}
	srv, err := server.Start(context.Background(), server.Options{Config: cfg, Policies: pols,
		Log: slog.New(slog.DiscardHandler), Clock: time.Now, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	c.stops[srv] = stop
	t.Cleanup(stop)
	return srv
}

// client is a browser (or an agent, with cert) whose connections to
// Portier's names go to addr: the load balancer's or one replica's. It
// opens a new connection for every request, from source address from, so
// that the load balancer alternates at every request and per-address rate
// limits see distinct people.
func (c *cluster) client(addr string, from net.IP, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(c.a.CA().Roots()[0])
	tlsCfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: from}}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   tlsCfg,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(a)
			if strings.HasSuffix(host, ".localhost") || host == "localhost" {
				a = addr
			}
			return dialer.DialContext(ctx, network, a)
		},
	}}
}

func (c *cluster) url(host, path string) string { return "https://" + host + ":" + c.port + path }

// roundRobin is a TCP load balancer that sends each new connection to the
// next backend, from the client's own source address.
type roundRobin struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	mu       sync.Mutex
	per      map[string]int
}

func newRoundRobin(t *testing.T) *roundRobin {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &roundRobin{ln: ln, per: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go lb.serve()
	return lb
}

func (lb *roundRobin) port() string {
	_, p, _ := net.SplitHostPort(lb.ln.Addr().String())
	return p
}

func (lb *roundRobin) serve() {
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			return
		}
		to := lb.backends[(lb.next.Add(1)-1)%uint64(len(lb.backends))]
		lb.mu.Lock()
		lb.per[to]++
		lb.mu.Unlock()
		go func() {
			from := c.RemoteAddr().(*net.TCPAddr).IP
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: from}}
			u, err := d.Dial("tcp", to)
			if err != nil {
				c.Close()
				return
			}
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			_, _ = io.Copy(c, u)
			c.Close()
		}()
	}
}

// TestClusterRoundRobinSignIns: 200 people sign in through a round-robin
// load balancer without stickiness, every request (the hand-off included)
// on the other replica than the one before; every sign-in must succeed.
func TestClusterRoundRobinSignIns(t *testing.T) {
	c := newCluster(t)
	const n = 200
	var failures []string
	for i := range n {
		from := net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))
		br := c.client(c.lb.ln.Addr().String(), from, nil)
		c.idp.QueueUser(identitytest.NewUser(fmt.Sprintf("sub-%d", i), fmt.Sprintf("p%d@example.com", i), "staff"))
		req, _ := http.NewRequest("GET", c.url("open.localhost", "/"), nil)
		req.Header.Set("Accept", "text/html")
		resp, err := br.Do(req)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%d: %v", i, err))
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "hello from upstream" {
			failures = append(failures, fmt.Sprintf("%d: %d at %s: %.200s", i, resp.StatusCode, resp.Request.URL, body))
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d of %d round-robin sign-ins failed; first: %s", len(failures), n, strings.Join(failures[:min(5, len(failures))], "\n"))
	}
	c.lb.mu.Lock()
	if c.lb.per[c.a.Addr()] == 0 || c.lb.per[c.b.Addr()] == 0 {
		t.Errorf("the load balancer did not use both replicas: %v", c.lb.per)
	}
	t.Logf("connections per replica: %v", c.lb.per)
	c.lb.mu.Unlock()
	c.wantClusterView(2)
}

// wantClusterView checks GET /api/v1/cluster on replica A: n replicas
// heartbeating, A itself among them, none missing, none far behind.
func (c *cluster) wantClusterView(n int) {
	t := c.t
	t.Helper()
	onA := c.client(c.a.Addr(), net.IPv4(127, 0, 0, 1), nil)
	req, _ := http.NewRequest("GET", c.url("localhost", "/api/v1/cluster"), nil)
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	resp, err := onA.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var view struct {
		HeadSequence uint64 `json:"head_sequence"`
		Replicas     []struct {
			ID      string `json:"id"`
			Version string `json:"version"`
			Behind  uint64 `json:"behind"`
			Missing bool   `json:"missing"`
			Self    bool   `json:"self"`
		} `json:"replicas"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/cluster = %d, %v", resp.StatusCode, err)
	}
	selves := 0
	for _, r := range view.Replicas {
		if r.Self {
			selves++
		}
		if r.Missing || r.Version == "" || r.Behind > 1000 {
			t.Errorf("replica %+v in the cluster view (head %d)", r, view.HeadSequence)
		}
	}
	if len(view.Replicas) != n || selves != 1 {
		t.Errorf("cluster view: %+v, want %d replicas, one of them self", view, n)
	}
	// Each singleton background job is leased to one of these replicas.
	ids := map[string]bool{}
	for _, r := range view.Replicas {
		ids[r.ID] = true
	}
	leases := c.leases()
	var names []string
	for name, holder := range leases {
		if !ids[holder] {
			t.Errorf("lease %s is held by %q, not a replica of the cluster view", name, holder)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if want := strings.Join(clusterJobs, " "); strings.Join(names, " ") != want {
		t.Errorf("held leases %v, want %s", names, want)
	}
}

// leases are the unexpired leases: job name to holder.
func (c *cluster) leases() map[string]string {
	t := c.t
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT name, holder FROM portier_leases WHERE expires_at > now()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, holder string
		if err := rows.Scan(&name, &holder); err != nil {
			t.Fatal(err)
		}
		out[name] = holder
	}
	return out
}

// clusterJobs are the jobs that run once across replicas, each under its
// lease, sorted.
var clusterJobs = []string{"audit.retention", "decisions.prune", "enrollment.sweeps", "identity.maintenance", "kpis.snapshot", "posture.scheduler"}

// TestClusterJobsMoveWhenTheirReplicaStops: a replica that stops releases
// its leases, and the other replica takes its jobs at its next attempt
// (every 5 s) instead of after the 15 s expiry.
func TestClusterJobsMoveWhenTheirReplicaStops(t *testing.T) {
	c := newCluster(t)
	b := c.selfID(c.b)
	for deadline := time.Now().Add(10 * time.Second); len(c.leases()) < 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("leases held: %v, want 3", c.leases())
		}
	}
	onA := 0
	for _, h := range c.leases() {
		if h != b {
			onA++
		}
	}
	if onA == 0 {
		t.Fatalf("A, started first, holds no lease: %v", c.leases())
	}
	c.stops[c.a]()
	stopped := time.Now()
	// Released leases are taken within one attempt (5 s); expired ones
	// only 10 to 20 s after the stop.
	for deadline := time.Now().Add(9 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		now := c.leases()
		onB := len(now) == len(clusterJobs)
		for _, h := range now {
			onB = onB && h == b
		}
		if onB {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leases %v %v after A stopped, want all held by B (%s)", now, time.Since(stopped), b)
		}
	}
	t.Logf("every job runs on B %v after A stopped", time.Since(stopped))
}

// selfID is the replica id srv gives itself in the cluster view, once its
// first heartbeat is stored.
func (c *cluster) selfID(srv *server.Server) string {
	t := c.t
	cl := c.client(srv.Addr(), net.IPv4(127, 0, 0, 1), nil)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", c.url("localhost", "/api/v1/cluster"), nil)
		req.Header.Set("Authorization", "Bearer "+clusterToken)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var view struct {
			Replicas []struct {
				ID   string `json:"id"`
				Self bool   `json:"self"`
			} `json:"replicas"`
		}
		err = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range view.Replicas {
			if r.Self {
				return r.ID
			}
		}
	}
	t.Fatal("the replica never appeared as itself in the cluster view")
	return ""
}

// TestClusterSilentLinkPartition: replica B's link to PostgreSQL goes
// silent (packets held, no connection closed). A device revoked through A
// must not stay allowed by B: within the staleness bound B's proxy answers
// 503, its agent API 503 with Retry-After, its /readyz 503. When the link
// comes back, B catches up, serves again and denies the revoked device.
func TestClusterSilentLinkPartition(t *testing.T) {
	c := newCluster(t)
	loop := net.IPv4(127, 0, 0, 1)
	const id = "laptop-partition"
	cert := enrolledDeviceOn(t, c.a, id)
	onA := c.client(c.a.Addr(), loop, nil)
	onB := c.client(c.b.Addr(), loop, cert)
	c.idp.QueueUser(identitytest.NewUser("sub-pat", "pat@example.com", "staff"))
	status := func(cl *http.Client, method, u, token string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		req.Header.Set("Accept", "text/html")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	app := c.url("app.localhost", "/")
	if code, _, body := status(onB, "GET", app, ""); code != 200 {
		t.Fatalf("before the partition, B = %d %.300s", code, body)
	}

	c.relay.Pause()
	paused := time.Now()
	// A revoke runs at once (a retire would wait for a second person's approval).
	revoke, _ := http.NewRequest("POST", c.url("localhost", "/api/v1/devices/"+id+"/actions"), strings.NewReader(`{"type":"revoke"}`))
	revoke.Header.Set("Authorization", "Bearer "+clusterToken)
	revoke.Header.Set("Content-Type", "application/json")
	if resp, err := onA.Do(revoke); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke through A = %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	bound := 2 * time.Second
	for deadline := time.Now().Add(bound + 3*time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, h, body := status(onB, "GET", app, "")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "Temporarily unavailable") || h.Get("Retry-After") == "" {
				t.Errorf("B's proxy refusal: Retry-After %q, page %.300s", h.Get("Retry-After"), body)
			}
			break
		}
		if code != 200 {
			t.Fatalf("B's proxy answered %d during the partition, want 200 until it is stale, then 503", code)
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's proxy still allows the revoked device %v after the link went silent (bound %v)", time.Since(paused), bound)
		}
	}
	t.Logf("B's proxy refuses %v after the link went silent", time.Since(paused))
	code, h, body := status(onB, "GET", c.url("localhost", "/api/v1/agent/profile"), "")
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, `"unavailable"`) {
		t.Errorf("B's agent API during the partition = %d (Retry-After %q) %s, want 503 with Retry-After", code, h.Get("Retry-After"), body)
	}
	if code, _, body := status(onB, "GET", c.url("localhost", "/readyz"), ""); code != http.StatusServiceUnavailable {
		t.Errorf("B's /readyz during the partition = %d %s", code, body)
	}

	c.relay.Resume()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _, _ := status(onB, "GET", c.url("localhost", "/readyz"), ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B did not recover after the link came back")
		}
	}
	if code, _, body := status(onB, "GET", app, ""); code != http.StatusForbidden {
		t.Errorf("B's proxy after recovery = %d %.300s, want 403 for the retired device", code, body)
	}
	if code, _, body := status(onB, "GET", c.url("localhost", "/api/v1/agent/profile"), ""); code != http.StatusUnauthorized {
		t.Errorf("B's agent API after recovery = %d %s, want 401 for the revoked certificate", code, body)
	}
}

// TestClusterWriteDuringOutage: a write on a replica whose database went
// away is refused 503 with Retry-After, not 500, and says nothing internal.
func TestClusterWriteDuringOutage(t *testing.T) {
	c := newCluster(t)
	onB := c.client(c.b.Addr(), net.IPv4(127, 0, 0, 1), nil)
	c.relay.Cut()
	req, _ := http.NewRequest("POST", c.url("localhost", "/api/v1/tokens"), strings.NewReader(`{"name":"in the outage","role":"auditor"}`))
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	resp, err := onB.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"unavailable"`) {
		t.Errorf("write during the outage = %d (Retry-After %q) %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "pgstore") {
		t.Errorf("the refusal leaks internals: %s", body)
	}
}

// enrolledDeviceOn issues a device certificate from srv's CA and records
// the device (trust medium, shared) through srv's store.
func enrolledDeviceOn(t *testing.T, srv *server.Server, id string) *tls.Certificate {
	t.Helper()
	w := &world{t: t, srv: srv}
	cert := w.enrolledDevice(id, store.TrustMedium)
	return cert
}

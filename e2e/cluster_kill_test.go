package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/store"
)

// Shape of the kill -9 run.
const (
	killReplicas  = 3
	killCount     = 20
	killLockDevs  = 4  // devices that take lock actions for the whole run
	killWipeDevs  = 10 // devices that take one full wipe each
	killDrainTime = 20 * time.Second
)

// TestClusterKill9UnderWipes: three replicas of the real binary on one
// PostgreSQL database; an admin client requests wipes and locks with an
// Idempotency-Key, round-robin over the replicas, retrying on the next one
// after a network error or a 503; enrolled agents poll through a
// round-robin load balancer and run what they get; meanwhile 20 times a
// random replica is killed with SIGKILL and restarted. Afterwards every
// request answered 2xx has exactly one action and one audit entry, every
// retried key answered the same action, no action ran twice on a device,
// and no answer was a 5xx other than 503.
func TestClusterKill9UnderWipes(t *testing.T) {
	began := time.Now()
	pc := newProcCluster(t, killReplicas)
	t.Logf("binary built and 3 replicas ready in %v", time.Since(began))
	admin := make([]*http.Client, len(pc.replicas))
	for i, r := range pc.replicas {
		admin[i] = pc.client(r, false)
	}
	var devs []*killDevice
	for i := range killLockDevs + killWipeDevs {
		devs = append(devs, pc.enrollKillDevice(admin[i%len(admin)], i < killLockDevs))
	}
	t.Logf("%d devices enrolled through the agent API at %v", len(devs), time.Since(began))

	ctx, stopDevices := context.WithCancel(context.Background())
	var devWG sync.WaitGroup
	for _, d := range devs {
		devWG.Add(1)
		go func() { defer devWG.Done(); d.loop(ctx) }()
	}
	defer func() { stopDevices(); devWG.Wait() }()

	rq := &requester{admin: admin, base: pc.url(""), byKey: map[string]*killRequest{}}
	reqCtx, stopRequests := context.WithCancel(context.Background())
	defer stopRequests()
	var reqWG sync.WaitGroup
	reqWG.Add(2)
	go func() { defer reqWG.Done(); rq.locks(reqCtx, devs[:killLockDevs]) }()
	go func() { defer reqWG.Done(); rq.wipes(reqCtx, devs[killLockDevs:]) }()

	// The killer: SIGKILL a random replica at a random moment, restart it
	// after a random pause, wait until it serves, again. Every other kill
	// aims at a replica with a request in flight, at a random point of a
	// round trip: before, during or after its commit.
	var restarts []time.Duration
	aimed := 0
	for k := range killCount {
		time.Sleep(time.Duration(200+mathrand.IntN(800)) * time.Millisecond)
		victim := mathrand.IntN(len(pc.replicas))
		if k%2 == 1 {
			if i, ok := rq.busyReplica(2 * time.Second); ok {
				victim = i
				aimed++
				time.Sleep(time.Duration(mathrand.Int64N(max(1, rq.lat.Load()))))
			}
		}
		r := pc.replicas[victim]
		r.kill()
		time.Sleep(time.Duration(mathrand.IntN(400)) * time.Millisecond)
		pc.start(r)
		restarts = append(restarts, pc.waitReady(r, 30*time.Second))
	}
	t.Logf("%d kills (%d aimed at a request in flight) done at %v; restart to ready: %v", killCount, aimed, time.Since(began), restarts)
	stopRequests()
	reqWG.Wait()

	// Drain: the agents keep polling until every acknowledged request's
	// action is closed (or the device was wiped), within a bound.
	var acts map[string]*store.Action
	for deadline := time.Now().Add(killDrainTime); ; time.Sleep(200 * time.Millisecond) {
		acts = pc.actions()
		if rq.allClosed(acts, devs) || time.Now().After(deadline) {
			break
		}
	}
	stopDevices()
	devWG.Wait()
	audits := pc.actionAudits()
	rq.check(t, acts, audits, devs)
	t.Logf("whole test %v", time.Since(began))
}

// killDevice is an enrolled agent whose commands are recorded, not run.
type killDevice struct {
	id    string
	lock  bool // takes locks; else one wipe
	ag    *agent.Agent
	run   *actionRunner
	wiped atomic.Bool
}

// actionRunner counts the commands run for each action id: the lock and
// wipe commands go through it.
type actionRunner struct {
	mu      sync.Mutex
	current string
	ran     map[string]int // commands run per action id
	handed  map[string]int // times the agent was handed the action
}

func (r *actionRunner) Run(_ context.Context, _ string, _ ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran[r.current]++
	return nil, nil
}

func (r *actionRunner) runs(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ran[id]
}

func (r *actionRunner) set(id string) {
	r.mu.Lock()
	r.current = id
	r.handed[id]++
	r.mu.Unlock()
}

// enrollKillDevice enrolls a device with a one-time code, the real agent
// and a real CSR, through the load balancer.
func (pc *procCluster) enrollKillDevice(admin *http.Client, lock bool) *killDevice {
	t := pc.t
	var code struct{ Code string }
	st, body := killCall(admin, pc.url("/api/v1/enrollment/codes"), "", `{"ownership":"corporate","user":"ada@example.com","ttl":"15m"}`)
	if st != http.StatusCreated || json.Unmarshal([]byte(body), &code) != nil {
		t.Fatalf("create enrollment code = %d %s", st, body)
	}
	dir := t.TempDir()
	ctx := context.Background()
	var enrolled *agent.Enrolled
	var err error
	for range 5 { // a connection may land on a replica that is still catching up
		enrolled, err = agent.Enroll(ctx, agent.EnrollOptions{Server: pc.url(""), Code: code.Code, StateDir: dir,
			Fingerprint: pc.rootFP, Version: "1.0.0", Out: io.Discard})
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	run := &actionRunner{ran: map[string]int{}, handed: map[string]int{}}
	ag, err := agent.Open(agent.Options{StateDir: dir, Version: "1.0.0", Platform: agent.PlatformLinux, Runner: run,
		Collect: perfectPosture, WipeCommand: []string{"wipe-this-device"}, PollWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Close() })
	return &killDevice{id: enrolled.DeviceID, lock: lock, ag: ag, run: run}
}

// loop is the agent's action loop: poll, run each action once (the
// agent's journal de-duplicates re-deliveries), report; errors are
// retried after a pause, as the agent service does.
func (d *killDevice) loop(ctx context.Context) {
	for ctx.Err() == nil {
		acts, err := d.ag.PollActions(ctx, time.Second)
		if err != nil {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		for _, a := range acts {
			d.run.set(a.ID)
			err := d.ag.Execute(ctx, []*agent.Action{a})
			if errors.Is(err, agent.ErrUnenrolled) {
				d.wiped.Store(true)
				return
			}
			if err != nil {
				break
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// killCall sends one request with the owner token; status 0 is a network
// error.
func killCall(c *http.Client, u, key, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// killRequest is one logical action request and what its attempts got.
type killRequest struct {
	key, device, typ string
	attempts         int
	netErrs, n503    int
	ids              map[string]int // action ids answered with 2xx
	final            int            // the last status
	bad              []string       // answers that are neither 2xx, 503 nor a network error
}

// requester is the admin client.
type requester struct {
	admin []*http.Client
	base  string // the external URL
	next  atomic.Uint64
	// inflight counts the requests under way to each replica; lat is the
	// latest 2xx round trip: the killer aims at requests in flight.
	inflight [killReplicas]atomic.Int32
	lat      atomic.Int64
	mu       sync.Mutex
	byKey    map[string]*killRequest
}

// locks requests locks round-robin over devs until ctx ends.
func (rq *requester) locks(ctx context.Context, devs []*killDevice) {
	for i := 0; ctx.Err() == nil; i++ {
		rq.send(devs[i%len(devs)].id, "lock", fmt.Sprintf("kill9 lock %d", i))
		sleepCtx(ctx, 40*time.Millisecond)
	}
}

// wipes requests one wipe per device, spread over the kills.
func (rq *requester) wipes(ctx context.Context, devs []*killDevice) {
	for i, d := range devs {
		if ctx.Err() != nil {
			return
		}
		rq.send(d.id, "wipe", fmt.Sprintf("kill9 wipe %d", i))
		sleepCtx(ctx, 2*time.Second)
	}
}

// busyReplica waits up to limit for a replica with a request in flight.
func (rq *requester) busyReplica(limit time.Duration) (int, bool) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
		for i := range rq.admin {
			if rq.inflight[i].Load() > 0 {
				return i, true
			}
		}
	}
	return 0, false
}

// send requests one action as a real client does: one Idempotency-Key,
// each attempt on the next replica after a network error or a 503, for at
// most 20 s.
func (rq *requester) send(device, typ, reason string) {
	kr := &killRequest{key: fmt.Sprintf("k9-%s-%d", typ, rq.next.Add(1)), device: device, typ: typ, ids: map[string]int{}}
	rq.mu.Lock()
	rq.byKey[kr.key] = kr
	rq.mu.Unlock()
	body := fmt.Sprintf(`{"type":%q,"params":{"reason":%q}}`, typ, reason)
	first := mathrand.IntN(len(rq.admin))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); kr.attempts++ {
		i := (first + kr.attempts) % len(rq.admin)
		rq.inflight[i].Add(1)
		sent := time.Now()
		st, resp := killCall(rq.admin[i], rq.base+"/api/v1/devices/"+device+"/actions", kr.key, body)
		rq.inflight[i].Add(-1)
		if st/100 == 2 {
			rq.lat.Store(int64(time.Since(sent)))
		}
		rq.mu.Lock()
		kr.final = st
		rq.mu.Unlock()
		switch {
		case st == 0: // a real client retries at once, on the next replica
			kr.netErrs++
			continue
		case st == http.StatusServiceUnavailable:
			kr.n503++
		case st == http.StatusOK || st == http.StatusCreated:
			var a struct{ ID string }
			_ = json.Unmarshal([]byte(resp), &a)
			rq.mu.Lock()
			kr.ids[a.ID]++
			rq.mu.Unlock()
			return
		default:
			rq.mu.Lock()
			kr.bad = append(kr.bad, fmt.Sprintf("%d %.300s", st, resp))
			rq.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

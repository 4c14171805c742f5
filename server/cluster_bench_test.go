//go:build unix

package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/posture"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/backup"
	"github.com/portier/portier/store/pgstore/pgtest"
	"github.com/portier/portier/store/storetest"
)

// The cluster benchmarks run whole servers (server.Start, then Serve) on
// the PostgreSQL named by PORTIER_TEST_POSTGRES_URL, each on a fresh
// schema; they are skipped without it. Figures: docs/performance.md#cluster.

// pgReplica is one in-process replica on PostgreSQL, serving.
type pgReplica struct {
	srv  *Server
	addr string
	stop func()
}

// startPGReplica starts and serves a replica on dsn with its own data dir
// and no metrics listener.
func startPGReplica(b *testing.B, dsn string) *pgReplica {
	b.Helper()
	addr := freeAddrB(b)
	cfg, err := config.Parse("bench.yaml", fmt.Appendf(nil, "external_url: https://localhost:8443\nlisten: %s\nmetrics_listen: \"off\"\ndata_dir: %s\nstore: %q\n",
		addr, filepath.Join(b.TempDir(), "data"), dsn))
	if err != nil {
		b.Fatal(err)
	}
	cfg.ApplyDefaults()
	pols, err := CompilePolicies(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := Start(context.Background(), Options{Config: cfg, Policies: pols, Log: slog.New(benchLog{}),
		Clock: time.Now, Getenv: pgEnv})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	r := &pgReplica{srv: srv, addr: addr, stop: func() { once.Do(func() { cancel(); <-done }) }}
	b.Cleanup(r.stop)
	return r
}

// benchLog passes on errors only, to stderr.
type benchLog struct{ slog.Handler }

func (benchLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (benchLog) Handle(_ context.Context, r slog.Record) error {
	fmt.Fprintln(os.Stderr, r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintln(os.Stderr, "  ", a.String()); return true })
	return nil
}
func (h benchLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h benchLog) WithGroup(string) slog.Handler      { return h }

func freeAddrB(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls GET /readyz (with the external host) until it answers
// 200.
func waitReady(b *testing.B, addr string) {
	b.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // bench server
		Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/readyz", nil)
		req.Host = "localhost:8443"
		resp, err := c.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
	}
	b.Fatalf("%s never became ready", addr)
}

// seedFleet writes n devices with their postures (storetest.PutFleet) and
// one certificate record per device, each a copy of a real certificate
// issued by the replica's CA under its own serial, as an enrolled fleet
// has.
func seedFleet(b *testing.B, r *pgReplica, n int) {
	b.Helper()
	ctx := context.Background()
	st := r.srv.Store()
	if err := storetest.PutFleet(ctx, st, n, time.Now()); err != nil {
		b.Fatal(err)
	}
	chain := issueFor(b, r.srv.CA(), storetest.Laptop(0, time.Now()).ID)
	tmpl, _ := st.Certificate(chain[0].SerialNumber.String())
	const batch = 5000
	for start := 1; start < n; start += batch {
		ops := make([]store.Op, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			c := *tmpl
			c.ID, c.DeviceID = fmt.Sprintf("%d", 2_000_000_000_000+i), storetest.Laptop(i, time.Time{}).ID
			ops = append(ops, store.Put(&c))
		}
		if err := st.Write(ctx, ops...); err != nil {
			b.Fatal(err)
		}
	}
}

// issueFor issues a real device certificate for deviceID.
func issueFor(b *testing.B, c *ca.CA, deviceID string) []*x509.Certificate {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		b.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		b.Fatal(err)
	}
	chain, err := c.IssueDevice(context.Background(), csr, deviceID, ca.KeyInfo{})
	if err != nil {
		b.Fatal(err)
	}
	return chain
}

// cpuTime is the CPU time (user and system, every thread) this process
// has used: on a machine shared with other work it says what a step costs
// apart from the wait for a core.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveHeap is the live heap after two collections.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

const clusterFleet = 100_000

// BenchmarkColdStart100kPostgres starts a replica on a PostgreSQL database
// holding 100,000 devices (with their postures and certificates) and times
// it from Start until GET /readyz answers 200 (migrations checked, CA
// unsealed, whole read model loaded, listener serving). It also reports the
// live heap the running replica added, per device.
func BenchmarkColdStart100kPostgres(b *testing.B) {
	dsn := pgtest.DSN(b)
	first := startPGReplica(b, dsn)
	seedFleet(b, first, clusterFleet)
	first.stop()
	var ready, cpu time.Duration
	var perDevice float64
	for b.Loop() {
		before := liveHeap()
		t0, cpu0 := time.Now(), cpuTime(b)
		r := startPGReplica(b, dsn)
		waitReady(b, r.addr)
		ready, cpu = time.Since(t0), cpuTime(b)-cpu0
		perDevice = float64(liveHeap()-min(before, liveHeap())) / clusterFleet
		if n := len(r.srv.Store().Devices()); n != clusterFleet {
			b.Fatalf("replica holds %d devices", n)
		}
		r.stop()
		loadavg, _ := os.ReadFile("/proc/loadavg") // absent off Linux: logged empty
		b.Logf("start %s: ready in %.2f s, %.2f CPU-s, %.0f heap B/device; load average %s",
			t0.UTC().Format("15:04:05"), ready.Seconds(), cpu.Seconds(), perDevice, strings.TrimSpace(string(loadavg)))
	}
	b.ReportMetric(ready.Seconds(), "s-to-ready")
	b.ReportMetric(cpu.Seconds(), "cpu-s-to-ready")
	b.ReportMetric(perDevice, "heap-B/device")
}

// BenchmarkRestore100kPostgres backs up a PostgreSQL database holding
// 100,000 devices (with postures and certificates) to a file, then times
// `portier restore` of that file into a fresh, empty database (a new
// schema): verify the whole file, import every record, all in the
// restore's one transaction.
func BenchmarkRestore100kPostgres(b *testing.B) {
	dsn := pgtest.DSN(b)
	r := startPGReplica(b, dsn)
	seedFleet(b, r, clusterFleet)
	path := filepath.Join(b.TempDir(), "fleet.backup")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	_, err = writeBackup(context.Background(), f, r.srv.backend.(store.Snapshotter), backup.BackendPostgres, "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(t0)
	fi, _ := f.Stat()
	f.Close()
	r.stop()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		dst := pgtest.DSN(b)
		o := RestoreOptions{Config: &config.Config{DataDir: filepath.Join(b.TempDir(), "data"), Store: dst}, Getenv: pgEnv,
			Clock: time.Now, Log: slog.New(slog.DiscardHandler), Actor: "local:bench"}
		b.StartTimer()
		cpu0 := cpuTime(b)
		res, err := Restore(context.Background(), o, path)
		if err != nil {
			b.Fatal(err)
		}
		cpu = cpuTime(b) - cpu0
		if res.Imported < 3*clusterFleet {
			b.Fatalf("imported %d records", res.Imported)
		}
	}
	b.ReportMetric(cpu.Seconds(), "cpu-s-restore")
	b.ReportMetric(took.Seconds(), "s-backup")
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-file")
}

// BenchmarkPropagation3Replicas runs three replicas on one database with
// 1,000 devices while posture reports arrive at 50 per second, spread
// round-robin over the replicas (the posture engine's Ingest, the path
// an agent's report takes after TLS). Meanwhile it revokes 200 device
// certificates through replica A, one every 20–70 ms, and times how long
// each takes to be enforced (IsRevoked, the proxy's per-request check) on
// A (the commit) and on B and C, from the start of the revocation, and
// on B and C after A's commit returned.
func BenchmarkPropagation3Replicas(b *testing.B) {
	const devices, samples, reportsPerSecond = 1000, 200, 50
	dsn := pgtest.DSN(b)
	reps := []*pgReplica{startPGReplica(b, dsn)}
	if err := storetest.PutFleet(context.Background(), reps[0].srv.Store(), devices, time.Now()); err != nil {
		b.Fatal(err)
	}
	reps = append(reps, startPGReplica(b, dsn), startPGReplica(b, dsn))
	for _, r := range reps {
		waitReady(b, r.addr)
	}
	seqs := make([]uint64, devices)
	for i := range seqs {
		seqs[i] = 1
	}
	for b.Loop() {
		var serials []string
		for i := range samples {
			serials = append(serials, issueFor(b, reps[0].srv.CA(), storetest.Laptop(i, time.Time{}).ID)[0].SerialNumber.String())
		}
		last := serials[len(serials)-1]
		for _, r := range reps[1:] {
			if _, ok := store.Find(r.srv.Store(), func() (*store.Certificate, bool) { return r.srv.Store().Certificate(last) }); !ok {
				b.Fatal("a replica did not see the certificates")
			}
		}

		ctx, cancel := context.WithCancel(context.Background())
		var reports, reportErrs atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			reportLoad(ctx, reps, seqs, reportsPerSecond, &reports, &reportErrs)
		}()
		time.Sleep(time.Second) // the load is flowing
		var commit, atB, atC, after []time.Duration
		t0load := time.Now()
		startReports := reports.Load()
		for i, serial := range serials {
			time.Sleep(time.Duration(20+i%6*10) * time.Millisecond)
			t0 := time.Now()
			if err := reps[0].srv.CA().Revoke(context.Background(), serial, ca.ReasonKeyCompromise, "bench"); err != nil {
				b.Fatal(err)
			}
			commit = append(commit, time.Since(t0))
			seenB, seenC := time.Duration(0), time.Duration(0)
			for deadline := t0.Add(10 * time.Second); seenB == 0 || seenC == 0; time.Sleep(100 * time.Microsecond) {
				if seenB == 0 && reps[1].srv.Store().IsRevoked(serial) {
					seenB = time.Since(t0)
				}
				if seenC == 0 && reps[2].srv.Store().IsRevoked(serial) {
					seenC = time.Since(t0)
				}
				if time.Now().After(deadline) {
					b.Fatalf("revocation %s not seen within 10 s", serial)
				}
			}
			atB, atC = append(atB, seenB), append(atC, seenC)
			after = append(after, seenB-commit[i], seenC-commit[i])
		}
		rate := float64(reports.Load()-startReports) / time.Since(t0load).Seconds()
		cancel()
		wg.Wait()
		others := append(slices.Clone(atB), atC...)
		b.ReportMetric(ms(pct(commit, 50)), "ms-commit-p50")
		b.ReportMetric(ms(pct(commit, 99)), "ms-commit-p99")
		b.ReportMetric(ms(pct(others, 50)), "ms-others-p50")
		b.ReportMetric(ms(pct(others, 99)), "ms-others-p99")
		b.ReportMetric(ms(slices.Max(others)), "ms-others-max")
		b.ReportMetric(ms(pct(after, 50)), "ms-after-commit-p50")
		b.ReportMetric(ms(pct(after, 99)), "ms-after-commit-p99")
		b.ReportMetric(rate, "reports/s")
		b.ReportMetric(float64(reportErrs.Load()), "report-errors")
	}
}

// reportLoad sends posture reports at perSecond, each for the next device
// on the next replica, until ctx ends. seqs holds each device's last
// report sequence number.
func reportLoad(ctx context.Context, reps []*pgReplica, seqs []uint64, perSecond int, sent, failed *atomic.Int64) {
	devices := len(seqs)
	t := time.NewTicker(time.Second / time.Duration(perSecond))
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d := i % devices
		seqs[d]++ // PutFleet's postures are at 1
		now := time.Now()
		rep := posture.Report{Seq: seqs[d], CollectedAt: now, Signals: []collect.Signal{
			{Name: collect.DiskEncrypted, Value: d%10 != 0, Source: "bench", CollectedAt: now},
			{Name: collect.OSVersion, Value: "14.5", Source: "bench", CollectedAt: now},
			{Name: collect.UptimeSeconds, Value: int64(i), Source: "bench", CollectedAt: now},
		}}
		wg.Add(1)
		go func(r *pgReplica, id string) { // each report on its own, as agents send them
			defer wg.Done()
			if err := r.srv.Posture().Ingest(ctx, id, rep); err != nil && ctx.Err() == nil {
				if failed.Add(1) == 1 {
					r.srv.log.Error("bench: a posture report failed", "device", id, "err", err)
				}
			}
			sent.Add(1)
		}(reps[i%len(reps)], storetest.Laptop(d, time.Time{}).ID)
	}
}

// pct is the p-th percentile of ds (nearest rank).
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

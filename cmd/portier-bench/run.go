package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portier/portier/identity"
)

// Target names, in the order they are measured.
const (
	targetUpstream = "upstream"
	targetBare     = "bare-proxy"
	targetPortier  = "portier"
	targetOAuth2   = "oauth2-proxy"
	defaultTargets = targetUpstream + "," + targetBare + "," + targetPortier + "," + targetOAuth2
	// targetNoRecord is Portier with recorded access off (decisions.record:
	// false), for the recording's cost: -targets portier,portier-norecord.
	targetNoRecord = "portier-norecord"
	allTargets     = defaultTargets + "," + targetNoRecord
)

// options are the command's settings, from its flags.
type options struct {
	duration, warmup time.Duration
	conc             int
	request          string // requestBrowser or requestMinimal
	rounds           int
	devices          int
	targets          map[string]bool
	cpuProfile       string
	memProfile       string
	profile          map[string]bool // targets to profile
	oauth2Proxy      string
}

func (o options) validate() error {
	if o.request != requestBrowser && o.request != requestMinimal {
		return fmt.Errorf("-request %q: want %s or %s", o.request, requestBrowser, requestMinimal)
	}
	if o.duration <= 0 || o.warmup < 0 || o.conc < 1 || o.rounds < 1 || o.devices < 0 {
		return errors.New("-d must be positive, -c and -rounds at least 1, -warmup and -devices not negative")
	}
	for name := range o.targets {
		if !strings.Contains(","+allTargets+",", ","+name+",") {
			return fmt.Errorf("unknown target %q in -targets (want some of %s)", name, allTargets)
		}
	}
	for name := range o.profile {
		if (o.cpuProfile != "" || o.memProfile != "") && !o.targets[name] {
			return fmt.Errorf("-profile %s is not among -targets", name)
		}
	}
	return nil
}

// profilePath is where target's profile goes: path itself when one target
// is profiled, else path with -target before its extension.
func (o options) profilePath(path, target string) string {
	if path == "" || len(o.profile) == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + target + ext
}

// run sets up the selected targets, measures each o.rounds times,
// interleaved so that a change in the machine's load hits every target
// alike, and prints the results.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "portier-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "portier-bench: "+format+"\n", args...) }
	before := machineLoad()

	ts, err := setUp(ctx, o, dir, &stops, logf, stderr)
	if err != nil {
		return err
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	printHeader(stdout, o, before, ms.HeapAlloc)
	res := map[string][]result{}
	for round := 1; round <= o.rounds; round++ {
		for _, t := range roundOrder(ts, round) {
			if err := ctx.Err(); err != nil {
				return err
			}
			// The targets share this process's heap: collect the previous
			// measurement's garbage now, so no target pays for another's.
			runtime.GC()
			logf("round %d/%d: %s, %d connections, %s (+%s warm-up)", round, o.rounds, t.name, o.conc, o.duration, o.warmup)
			var onWindow func(bool)
			if o.profile[t.name] && round == 1 {
				onWindow = profiler(o.profilePath(o.cpuProfile, t.name), o.profilePath(o.memProfile, t.name), logf)
			}
			res[t.name] = append(res[t.name], measure(ctx, t, o.conc, o.request, o.warmup, o.duration, onWindow))
		}
		printRound(stdout, round, ts, res)
	}
	printSummary(stdout, o, ts, res)
	return nil
}

// roundOrder is the order targets are measured in a round: as listed in
// odd rounds, reversed in even ones, so that whatever the position in a
// round costs (the machine's drift, the previous target's connections
// closing) falls on every target alike.
func roundOrder(ts []*target, round int) []*target {
	if round%2 == 1 {
		return ts
	}
	out := make([]*target, len(ts))
	for i, t := range ts {
		out[len(ts)-1-i] = t
	}
	return out
}

// setUp starts the upstream and the selected targets, registering how to
// stop each in stops, and checks that each one serves the upstream's page.
func setUp(ctx context.Context, o options, dir string, stops *[]func(), logf func(string, ...any), logw io.Writer) ([]*target, error) {
	upConns := &atomic.Int64{}
	up, stop, err := startUpstream(ctx, upConns)
	if err != nil {
		return nil, fmt.Errorf("the upstream did not start: %w", err)
	}
	*stops = append(*stops, stop)
	cert, err := selfSignedCert()
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)

	var ts []*target
	if o.targets[targetUpstream] {
		ts = append(ts, &target{name: targetUpstream, proto: "http", addr: up,
			urls: []string{"http://" + up + "/bench"}, cookies: []string{""}})
	}
	if o.targets[targetBare] {
		addr, stop, err := startBareProxy(ctx, up, cert)
		if err != nil {
			return nil, fmt.Errorf("the bare proxy did not start: %w", err)
		}
		*stops = append(*stops, stop)
		// The client sends the same request as to Portier: it presents a
		// certificate, so both handshakes do the same work, and a session
		// cookie of the same name and length (the bare proxy forwards it,
		// as it would an application's own cookie).
		cookie, _ := identity.NewSessionSecret()
		ts = append(ts, &target{name: targetBare, proto: "https+mTLS", addr: addr,
			urls: []string{"https://localhost/bench"}, cookies: []string{identity.SessionCookie + "=" + cookie},
			tls: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}})
	}
	if o.targets[targetPortier] {
		logf("starting Portier: %d routes, %d policy rules, writing %d devices", routeCount, routeCount*rulesPerPolicy, o.devices)
		began := time.Now()
		t, stop, err := startPortier(ctx, filepath.Join(dir, "portier"), up, o.devices, true, logw)
		if err != nil {
			return nil, err
		}
		*stops = append(*stops, stop)
		logf("Portier ready in %s", time.Since(began).Round(100*time.Millisecond))
		ts = append(ts, t)
	}
	if o.targets[targetNoRecord] {
		t, stop, err := startPortier(ctx, filepath.Join(dir, "portier-norecord"), up, o.devices, false, logw)
		if err != nil {
			return nil, err
		}
		*stops = append(*stops, stop)
		t.name = targetNoRecord
		ts = append(ts, t)
	}
	if o.targets[targetOAuth2] {
		bin := o.oauth2Proxy
		if bin == "" {
			logf("building %s", oauth2ProxyModule)
			if bin, err = buildOAuth2Proxy(ctx, dir); err != nil {
				return nil, err
			}
		}
		t, stop, err := startOAuth2Proxy(ctx, bin, dir, up, cert)
		if err != nil {
			return nil, err
		}
		*stops = append(*stops, stop)
		logf("oauth2-proxy ready and signed in")
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return nil, errors.New("no target selected")
	}
	for _, t := range ts {
		t.upstreamConns = upConns
	}
	for _, t := range ts {
		if err := preflight(ctx, t); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// profiler returns a measurement window callback that writes a CPU
// profile of the window to cpuPath and heap profiles at its start and end
// to memPath+".base" and memPath (empty paths are skipped).
func profiler(cpuPath, memPath string, logf func(string, ...any)) func(bool) {
	var cpu *os.File
	return func(open bool) {
		if memPath != "" {
			path := memPath
			if open {
				path += ".base"
			}
			if err := writeHeapProfile(path); err != nil {
				logf("heap profile: %v", err)
			}
		}
		switch {
		case cpuPath == "":
		case open:
			f, err := os.Create(cpuPath)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				logf("cpu profile: %v", err)
				return
			}
			cpu = f
		case cpu != nil:
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				logf("cpu profile: %v", err)
				return
			}
			logf("wrote %s", cpuPath)
		}
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Command portier-bench measures, on loopback and in one run, the
// throughput and latency of Portier's proxy next to the upstream alone, a
// tuned bare httputil.ReverseProxy and oauth2-proxy v7.15.3, with the same
// in-process load generator (keep-alive HTTP/1.1 clients at a fixed
// concurrency), and prints the ratios the performance targets are stated
// in. See docs/performance.md for the method and recorded results.
//
// Usage:
//
//	go run ./cmd/portier-bench [-rounds 10] [-d 2s] [-c 64] [-request browser|minimal] [-targets upstream,bare-proxy,portier,oauth2-proxy]
//	go run ./cmd/portier-bench -targets portier -cpuprofile portier.pprof
//	go run ./cmd/portier-bench -targets portier,portier-norecord   (the cost of recorded access)
//
// Every target listens on 127.0.0.1 and the load generator dials nothing
// else; oauth2-proxy is built once from the Go module proxy (or taken from
// -oauth2-proxy) and run against an in-process OIDC provider.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	// Its own flag set: a dependency registers glog's flags on the default
	// one, and they mean nothing here.
	fs := flag.NewFlagSet("portier-bench", flag.ExitOnError)
	fs.DurationVar(&o.duration, "d", 2*time.Second, "measured duration per target and round")
	fs.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "load before each measurement that is not counted")
	fs.IntVar(&o.conc, "c", 64, "concurrent keep-alive connections (one request in flight each)")
	fs.StringVar(&o.request, "request", requestBrowser, "request headers the load generator sends to every target: browser (what Chromium sends for a page, plus the cookie) or minimal (Go's User-Agent and the cookie)")
	fs.IntVar(&o.rounds, "rounds", 10, "measure every target this many times, interleaved (many short rounds keep drift in the machine's speed out of the ratios); the summary reports the best, the spread and the median ratio")
	fs.IntVar(&o.devices, "devices", 100_000, "devices written to Portier's store before the run")
	targets := fs.String("targets", defaultTargets, "targets to measure, comma-separated")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the first measurement of each -profile target to this file (samples are labelled role=portier|bare-proxy|upstream|client)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write heap profiles at the start (FILE.base) and end (FILE) of the first measurement of each -profile target; read the window's allocations with go tool pprof -sample_index=alloc_space -base FILE.base FILE")
	profile := fs.String("profile", targetPortier, "the targets -cpuprofile and -memprofile profile, comma-separated; with several, each file name gets -TARGET before its extension")
	fs.StringVar(&o.oauth2Proxy, "oauth2-proxy", "", "path to an oauth2-proxy binary; empty builds "+oauth2ProxyModule+" with go install")
	_ = fs.Parse(os.Args[1:]) // ExitOnError: exits 2 with usage on a bad flag
	o.targets, o.profile = nameSet(*targets), nameSet(*profile)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "portier-bench: %v\n", err)
		os.Exit(1)
	}
}

// nameSet splits a comma-separated list of target names.
func nameSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		set[strings.TrimSpace(name)] = true
	}
	return set
}

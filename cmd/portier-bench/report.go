package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from issue 3, as ratios of Portier's throughput.
const (
	wantVsBare   = 0.9
	wantVsOAuth2 = 3.0
	// wantVsNoRecord: recording access costs at most 3% of throughput.
	wantVsNoRecord = 0.97
)

// printHeader prints the machine and the settings, so a pasted result
// says what it was measured on.
func printHeader(w io.Writer, o options, before string, heap uint64) {
	fmt.Fprintf(w, "portier-bench  %s\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS %d), %s, %s RAM, %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), procField("/proc/cpuinfo", "model name"),
		procField("/proc/meminfo", "MemTotal"), runtime.Version())
	fmt.Fprintf(w, "other load when the run started: %s\n", before)
	fmt.Fprintf(w, "load: %d keep-alive HTTP/1.1 connections, %s per target per round after %s warm-up, %d round(s), %s request headers\n",
		o.conc, o.duration, o.warmup, o.rounds, o.request)
	fmt.Fprintf(w, "portier: %d routes, %d policy rules, %d devices, session + device certificate (trust high)\n",
		routeCount, routeCount*rulesPerPolicy, o.devices)
	fmt.Fprintf(w, "heap after set-up: %d MiB (every in-process target shares it, and its garbage collector)\n\n", heap>>20)
}

// printRound prints one round's table.
func printRound(w io.Writer, round int, ts []*target, res map[string][]result) {
	fmt.Fprintf(w, "round %d\n", round)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tproto\treq/s\tp50\tp99\terrors\tCPU/req\tCPU used\tallocs/req\tB/req\tnew upstream conns\t")
	for _, t := range ts {
		r := res[t.name][round-1]
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%d\t%s\t%.0f%%\t%d\t%d\t%d\t\n", t.name, t.proto, r.rps(), us(r.p50), us(r.p99), r.errors,
			us(r.cpuPerReq), 100*r.cpuShare, r.allocs, r.allocBytes, r.upstreamConns)
	}
	tw.Flush()
	for _, t := range ts {
		if r := res[t.name][round-1]; r.errors > 0 {
			fmt.Fprintf(w, "  %s: first error: %s\n", t.name, r.firstErr)
		}
	}
	fmt.Fprintln(w)
}

// printSummary prints each target's best round and the spread over rounds,
// and Portier's ratios to the baselines with the targets.
func printSummary(w io.Writer, o options, ts []*target, res map[string][]result) {
	fmt.Fprintf(w, "summary: best of %d round(s); spread is the lowest–highest req/s\n", o.rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\tspread\tp50\tp99\terrors\tCPU/req\tCPU used\t")
	best := map[string]result{}
	for _, t := range ts {
		rs := res[t.name]
		b, lo, errs := rs[0], rs[0].rps(), 0
		for _, r := range rs {
			if r.rps() > b.rps() {
				b = r
			}
			lo = min(lo, r.rps())
			errs += r.errors
		}
		best[t.name] = b
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f–%.0f\t%s\t%s\t%d\t%s\t%.0f%%\t\n", t.name, b.rps(), lo, b.rps(), us(b.p50), us(b.p99), errs,
			us(b.cpuPerReq), 100*b.cpuShare)
	}
	tw.Flush()
	p, ok := best[targetPortier]
	if !ok {
		return
	}
	for _, base := range []struct {
		name string
		want float64
	}{{targetBare, wantVsBare}, {targetOAuth2, wantVsOAuth2}, {targetNoRecord, wantVsNoRecord}} {
		b, ok := best[base.name]
		if !ok || b.rps() == 0 {
			continue
		}
		fmt.Fprintf(w, "Portier / %s (target ≥ %g×): %s\n", base.name, base.want, ratios(p, b, res[targetPortier], res[base.name], base.want))
	}
}

// undisturbed is the share of the machine's CPUs a measurement must have
// used for its round to count as undisturbed by other work.
const undisturbed = 0.9

// ratios describes Portier's throughput relative to a baseline: best to
// best, the range over rounds, and the median over the rounds in which
// both measurements had the machine to themselves, on which the verdict
// rests (with no such round there is no verdict).
func ratios(pBest, bBest result, ps, bs []result, want float64) string {
	best := pBest.rps() / bBest.rps()
	lo, hi := best, best
	var clean []float64
	for i := range ps {
		x := ps[i].rps() / bs[i].rps()
		lo, hi = min(lo, x), max(hi, x)
		if ps[i].cpuShare >= undisturbed && bs[i].cpuShare >= undisturbed {
			clean = append(clean, x)
		}
	}
	out := fmt.Sprintf("best/best %.2f×, per round %.2f–%.2f×", best, lo, hi)
	if len(clean) == 0 {
		return out + "; inconclusive: no round in which both had ≥ 90% of the CPUs"
	}
	slices.Sort(clean)
	judged := (clean[(len(clean)-1)/2] + clean[len(clean)/2]) / 2
	out += fmt.Sprintf(", median of %d undisturbed round(s) %.2f×", len(clean), judged)
	if judged >= want {
		return out + ": meets"
	}
	return out + ": MISSES"
}

// us formats a duration in microseconds.
func us(d time.Duration) string {
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

// procField returns the value of the first "key: value" line of a /proc
// file starting with key, "unknown" if none.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}

// machineLoad describes what else the machine is doing right now.
func machineLoad() string {
	return "load average " + loadAverage() + ", CPU pressure " + cpuPressure()
}

// cpuPressure is the share of the last 10 s in which some runnable task
// waited for a CPU (Linux PSI): near 0% on an otherwise idle machine, so a
// high value flags numbers taken while something else was running.
func cpuPressure() string {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return "unknown"
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "avg10="); ok {
			return v + "% (10 s)"
		}
	}
	return "unknown"
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

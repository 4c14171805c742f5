package collect

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"
)

// Collector produces a few related signals from one tool family.
type Collector interface {
	// Signals lists every signal name the collector can produce. The set
	// runs the collector only if the profile allows at least one of them.
	Signals() []string
	// Collect gathers the signals; it may skip work for names in.Allowed
	// does not hold, and the set drops any signal that is not allowed.
	Collect(ctx context.Context, in Input) []Signal
}

// Env is what collectors read the device through; tests inject fakes.
type Env struct {
	Runner Runner
	// FS is the device's file system rooted at "/" (os.DirFS("/")); paths
	// are given without the leading slash, e.g. "etc/os-release".
	FS fs.FS
	// DiskFree returns the bytes available to unprivileged users on the
	// file system holding path.
	DiskFree func(path string) (uint64, error)
	// AgentVersion is reported as agent.version.
	AgentVersion string
}

// DefaultEnv is the real device: exec with limits, the root file system and
// the platform's free-space call.
func DefaultEnv(agentVersion string) Env {
	return Env{
		Runner:       ExecRunner{},
		FS:           os.DirFS("/"),
		DiskFree:     diskFree,
		AgentVersion: agentVersion,
	}
}

// Input is what a collector gets for one run.
type Input struct {
	Env
	Allowed Allowed
	Clock   func() time.Time
}

// Set is the collectors of one platform bound to an environment.
type Set struct {
	platform   string
	env        Env
	collectors []Collector
}

// NewSet binds collectors for a platform to an environment.
func NewSet(platform string, env Env, collectors ...Collector) *Set {
	return &Set{platform: platform, env: env, collectors: collectors}
}

// Native returns the collector set for the operating system the agent runs on.
func Native(env Env) (*Set, error) {
	switch runtime.GOOS {
	case "linux":
		return Linux(env), nil
	case "darwin":
		return MacOS(env), nil
	case "windows":
		return Windows(env), nil
	}
	return nil, fmt.Errorf("collect: no collectors for %s", runtime.GOOS)
}

// Platform names the set's platform: linux, macos or windows.
func (s *Set) Platform() string { return s.platform }

// Signals lists every signal name the set can produce, in collector order.
func (s *Set) Signals() []string {
	var names []string
	for _, c := range s.collectors {
		names = append(names, c.Signals()...)
	}
	return names
}

// Run runs, one after the other, every collector that may produce an
// allowed signal, and returns the allowed signals only. A collector none of
// whose signals is allowed is never started.
func (s *Set) Run(ctx context.Context, allowed Allowed, clock func() time.Time) []Signal {
	in := Input{Env: s.env, Allowed: allowed, Clock: clock}
	var out []Signal
	for _, c := range s.collectors {
		names := c.Signals()
		if !allowed.Any(names...) {
			continue
		}
		for _, sig := range runOne(ctx, c, in) {
			if allowed.Has(sig.Name) && contains(names, sig.Name) {
				out = append(out, sig)
			}
		}
	}
	return out
}

// runOne runs a collector and turns a panic into error signals, so one
// broken parser cannot stop the report.
func runOne(ctx context.Context, c Collector, in Input) (sigs []Signal) {
	defer func() {
		if r := recover(); r != nil {
			sigs = nil
			for _, n := range c.Signals() {
				sigs = append(sigs, Signal{Name: n, CollectedAt: in.Clock(), Error: fmt.Sprintf("collector failed: %v", r)})
			}
		}
	}()
	return c.Collect(ctx, in)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// funcCollector is a Collector made of a name list and a function.
type funcCollector struct {
	names []string
	fn    func(ctx context.Context, in Input) []Signal
}

// Signals lists the names the collector can produce.
func (c funcCollector) Signals() []string { return c.names }

// Collect runs the collector function.
func (c funcCollector) Collect(ctx context.Context, in Input) []Signal { return c.fn(ctx, in) }

// newCollector builds a Collector from its signal names and function.
func newCollector(fn func(ctx context.Context, in Input) []Signal, names ...string) Collector {
	return funcCollector{names: names, fn: fn}
}

// value makes a signal carrying v.
func (in Input) value(name, source string, v any) Signal {
	if s, ok := v.(string); ok {
		v = strings.ToValidUTF8(s, "\uFFFD")
	}
	return Signal{Name: name, Value: v, Source: source, CollectedAt: in.Clock()}
}

// failure makes a signal that says why name could not be told.
func (in Input) failure(name, source string, err error) Signal {
	return Signal{Name: name, Source: source, CollectedAt: in.Clock(), Error: errorText(err)}
}

// failAll makes one failure signal per name.
func (in Input) failAll(source string, err error, names ...string) []Signal {
	out := make([]Signal, 0, len(names))
	for _, n := range names {
		out = append(out, in.failure(n, source, err))
	}
	return out
}

// run runs a command through the runner and returns its output and the
// source string that names it.
func (in Input) run(ctx context.Context, name string, args ...string) ([]byte, string, error) {
	source := strings.TrimSpace(name + " " + strings.Join(args, " "))
	if in.Runner == nil {
		return nil, source, fmt.Errorf("%s: no runner: %w", source, ErrNotAvailable)
	}
	out, err := in.Runner.Run(ctx, name, args...)
	return out, source, err
}

// read reads a file from the environment's file system.
func (in Input) read(name string) ([]byte, string, error) {
	data, err := readFile(in.FS, name)
	return data, "/" + name, err
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/posture/collect"
)

// agentDeps are the agent's ties to the machine; tests replace them so
// they never lock, notify or wipe the machine they run on.
type agentDeps struct {
	// Runner runs action commands (lock, notifications, the wipe command).
	Runner collect.Runner
	// Collect gathers signals; nil means the real collectors.
	Collect func(ctx context.Context, allowed collect.Allowed) []collect.Signal
	// Info reads the device's facts at enrollment; nil means the real machine.
	Info func(ctx context.Context) agentwire.DeviceInfo
	// Clock is the agent's clock; nil means time.Now.
	Clock func() time.Time
	// BrowserRunner runs the browser stores' tools (certutil, pk12util);
	// nil leaves the browsers alone.
	BrowserRunner agent.CommandRunner
	// TPM opens the TPM; nil means the machine's (agent.OpenSystemTPM).
	TPM agent.TPMOpener
}

func defaultAgentDeps() agentDeps {
	return agentDeps{Runner: collect.ExecRunner{Timeout: 2 * time.Minute}, BrowserRunner: agent.ExecCommands}
}

// agentCmd is `portier agent enroll|run|privacy`.
func agentCmd(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	return runAgent(ctx, args, env, stdout, stderr, defaultAgentDeps())
}

func runAgent(ctx context.Context, args []string, env Env, stdout, stderr io.Writer, deps agentDeps) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, `usage: portier agent <command> [flags]

commands:
  enroll   --server URL --code CODE [--state-dir DIR] [--ca-fingerprint SHA256] [--work-profile] [--force]
           [--key auto|tpm|software]
  run      [--state-dir DIR] [--once] [--wipe-command "CMD ARGS"]
  privacy  [--state-dir DIR] [--refresh]   what your organization can see on this device
  status   [--state-dir DIR] [--json]      enrollment, certificate, where the device identity is installed
  unenroll [--state-dir DIR] [--force]     remove the device identity everywhere, tell the server, delete the state
  browser-import --dir DIR                 (Windows, run by the service's logon task as a person) import the
                                           device identity into the person's Cert:\CurrentUser\My

browser flags (enroll, run, unenroll):
  --user-home DIR              install the device identity for this home only, as the agent's own user
  --browser-policy-dirs D1,D2  Chromium-family managed policy directories (default: Chromium, Chrome, Edge; root only)
  --no-browser                 leave the browsers alone
`)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	switch args[0] {
	case "enroll":
		return agentEnroll(ctx, args[1:], env, stdout, stderr, deps)
	case "run":
		return agentRun(ctx, args[1:], env, stdout, stderr, deps)
	case "privacy":
		return agentPrivacy(ctx, args[1:], env, stdout, stderr, deps)
	case "status":
		return agentStatus(args[1:], env, stdout, stderr, deps)
	case "unenroll":
		return agentUnenroll(ctx, args[1:], env, stdout, stderr, deps)
	case "browser-import":
		return agentBrowserImport(ctx, args[1:], stdout, stderr, deps)
	}
	fmt.Fprintf(stderr, "portier agent: unknown command %q (enroll, run, privacy, status, unenroll or browser-import)\n", args[0])
	return ExitUsage
}

func agentEnroll(ctx context.Context, args []string, env Env, stdout, stderr io.Writer, deps agentDeps) int {
	fs := newFlagSet("agent enroll", stderr)
	fs.String("server", "", "Portier's https URL (env PORTIER_SERVER)")
	fs.String("code", "", "the enrollment code (env PORTIER_CODE)")
	fs.String("state-dir", "", "where the key, certificate and state go (default "+agent.DefaultStateDir()+")")
	fs.String("ca-fingerprint", "", "SHA-256 of the Portier root, as the console shows it; without it the root is trusted on first use")
	workProfile := fs.Bool("work-profile", false, "personal (BYOD) device: manage only a work profile")
	force := fs.Bool("force", false, "replace an existing enrollment")
	fs.String("key", agent.KeyModeAuto, "where the device key is made: auto (the TPM when usable, else software), tpm (the TPM or fail) or software (env PORTIER_KEY)")
	browserFlags(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier agent enroll: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	server, code := envOr(fs, env, "server"), envOr(fs, env, "code")
	if server == "" || code == "" {
		fmt.Fprintln(stderr, "portier agent enroll: --server and --code are required")
		return ExitUsage
	}
	stateDir := orDefault(envOr(fs, env, "state-dir"), agent.DefaultStateDir())
	info := deps.Info
	if info == nil {
		info = func(ctx context.Context) agentwire.DeviceInfo {
			return agent.ReadDeviceInfo(ctx, agent.DeviceInfoEnv{Platform: agent.NativePlatform(),
				Runner: collect.ExecRunner{Timeout: 10 * time.Second}, FS: os.DirFS("/"), Hostname: os.Hostname, Getenv: env})
		}
	}
	bo := browserOptions(fs, env, deps)
	if *force && bo != nil {
		// The identity of the enrollment being replaced leaves the browsers.
		if _, err := agent.RemoveBrowserIdentity(ctx, stateDir, *bo); err != nil {
			fmt.Fprintf(stderr, "portier agent enroll: warning: %v\n", err)
		}
	}
	res, err := agent.Enroll(ctx, agent.EnrollOptions{Server: server, Code: code, Fingerprint: envOr(fs, env, "ca-fingerprint"),
		WorkProfile: *workProfile, StateDir: stateDir, Force: *force, Version: Version, Info: info, Out: stderr, Clock: deps.Clock,
		KeyMode: orDefault(envOr(fs, env, "key"), agent.KeyModeAuto), TPM: deps.TPM})
	if err != nil {
		fmt.Fprintf(stderr, "portier agent enroll: %v\n", err)
		return ExitFail
	}
	mode := "fully managed"
	if res.WorkProfile {
		mode = "work profile only"
	}
	fmt.Fprintf(stdout, "Enrolled as device %s (%s, %s).\n  State:       %s\n  Certificate: valid until %s\n  Root:        SHA256 %s\n",
		res.DeviceID, res.Ownership, mode, res.Dir, res.NotAfter.Format(time.RFC3339), res.Fingerprint)
	fmt.Fprintf(stdout, "  Key:         %s\n", agent.DescribeKey(res.KeyProtection, res.KeyProtectionSource, res.KeyNote))
	if bo != nil {
		installBrowsers(ctx, stateDir, bo, deps, stdout, stderr)
	}
	fmt.Fprintln(stdout, "Next: start the agent service, or run `portier agent run --once`. See what is collected: `portier agent privacy`.")
	return ExitOK
}

// installBrowsers puts the new enrollment's identity into the browsers
// and says where; a failure is a warning (the agent retries each cycle).
func installBrowsers(ctx context.Context, stateDir string, bo *agent.BrowserOptions, deps agentDeps, stdout, stderr io.Writer) {
	a, err := agent.Open(agent.Options{TPM: deps.TPM, StateDir: stateDir, Version: Version, Clock: deps.Clock, Runner: deps.Runner, Browser: bo,
		Collect: func(context.Context, collect.Allowed) []collect.Signal { return nil }})
	if err != nil {
		fmt.Fprintf(stderr, "portier agent enroll: warning: device identity not installed for the browsers: %v\n", err)
		return
	}
	defer a.Close()
	if err := a.SyncBrowsers(ctx); err != nil {
		fmt.Fprintf(stderr, "portier agent enroll: warning: %v\n", err)
	}
	if st, err := agent.ReadStatus(stateDir, deps.Clock()); err == nil {
		for _, p := range st.Browser.Placements {
			fmt.Fprintf(stdout, "  Browsers:    %s\n", describePlacement(p))
		}
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func agentRun(ctx context.Context, args []string, env Env, stdout, stderr io.Writer, deps agentDeps) int {
	fs := newFlagSet("agent run", stderr)
	fs.String("state-dir", "", "the enrollment's state directory (default "+agent.DefaultStateDir()+")")
	once := fs.Bool("once", false, "run one full cycle (profile, posture, renewal, pending actions) and exit")
	fs.String("wipe-command", "", "the full-wipe command and its arguments, separated by spaces (no shell); empty: full wipe disabled on this device")
	fs.String("log-level", "", "debug, info (default), warn or error")
	browserFlags(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier agent run: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(orDefault(envOr(fs, env, "log-level"), "info"))); err != nil {
		fmt.Fprintf(stderr, "portier agent run: --log-level: %v\n", err)
		return ExitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	a, err := agent.Open(agent.Options{TPM: deps.TPM,
		StateDir: orDefault(envOr(fs, env, "state-dir"), agent.DefaultStateDir()), Version: Version,
		Clock: deps.Clock, Log: log, Runner: deps.Runner, Collect: deps.Collect,
		WipeCommand: strings.Fields(envOr(fs, env, "wipe-command")),
		TimeZone:    func() string { return agent.LocalTimeZone(env) },
		Browser:     browserOptions(fs, env, deps),
	})
	if err != nil {
		fmt.Fprintf(stderr, "portier agent run: %v\n", err)
		return ExitFail
	}
	defer a.Close()
	if *once {
		return agentResult(a.Once(ctx), true, a.DeviceID(), stdout, stderr)
	}
	body := func(ctx context.Context) int {
		log.Info("agent: running", "device", a.DeviceID(), "dir", a.Dir())
		return agentResult(a.Run(ctx), false, a.DeviceID(), stdout, stderr)
	}
	if code, ok := asService(agentServiceName, body); ok {
		return code
	}
	return body(ctx)
}

// agentServiceName is the agent's Windows service name (see deploy/windows).
const agentServiceName = "PortierAgent"

// agentResult turns the outcome of a cycle or a run into an exit code:
// after a wipe the agent stops with 0 so service managers do not restart it.
func agentResult(err error, once bool, deviceID string, stdout, stderr io.Writer) int {
	switch {
	case errors.Is(err, agent.ErrUnenrolled):
		fmt.Fprintln(stdout, "This device was unenrolled by a remote action; the agent stops.")
		return ExitOK
	case err != nil:
		fmt.Fprintf(stderr, "portier agent run: %v\n", err)
		return ExitFail
	}
	if once {
		fmt.Fprintf(stdout, "Agent cycle done for device %s.\n", deviceID)
	}
	return ExitOK
}

func agentPrivacy(ctx context.Context, args []string, env Env, stdout, stderr io.Writer, deps agentDeps) int {
	fs := newFlagSet("agent privacy", stderr)
	fs.String("state-dir", "", "the enrollment's state directory (default "+agent.DefaultStateDir()+")")
	refresh := fs.Bool("refresh", false, "ask the server for the current notice")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	dir := orDefault(envOr(fs, env, "state-dir"), agent.DefaultStateDir())
	if !*refresh {
		if text, err := agent.CachedPrivacy(dir); err == nil {
			fmt.Fprintln(stdout, strings.TrimRight(text, "\n"))
			return ExitOK
		}
	}
	a, err := agent.Open(agent.Options{TPM: deps.TPM, StateDir: dir, Version: Version, Clock: deps.Clock, Runner: deps.Runner,
		Collect: func(context.Context, collect.Allowed) []collect.Signal { return nil }})
	if err != nil {
		fmt.Fprintf(stderr, "portier agent privacy: %v\n", err)
		return ExitFail
	}
	defer a.Close()
	text, err := a.PrivacyText(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "portier agent privacy: %v\n", err)
		return ExitFail
	}
	fmt.Fprintln(stdout, strings.TrimRight(text, "\n"))
	return ExitOK
}

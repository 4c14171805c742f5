// Package cli is the portier command line: Run parses the arguments and
// runs one command, with its environment and output injected so tests can
// call it like a user would.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed (or a what-if denied)
	ExitUsage = 2 // bad arguments or an invalid config
)

// Env is the process environment as a lookup function.
type Env func(string) string

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run Portier (console, proxy, CA); with no config it runs the embedded default", serve},
		{"version", "print version, commit and Go version", version},
		{"policy", "lint a config's policies, or test what a request would get (what-if)", policyCmd},
		{"agent", "the device agent: enroll this machine, run (posture, renewal, remote actions), privacy", agentCmd},
		{"backup", "write a consistent backup of the store and the CA (online: serve may keep running)", backupCmd},
		{"restore", "restore a backup into an empty data dir or database", restoreCmd},
		{"audit", "verify the audit log's hash chain, through the API or in a backup file", auditCmd},
	}
}

// Run runs the portier command line and returns the process exit code.
func Run(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], env, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "portier: unknown command %q\n\n", args[0])
	usage(stderr)
	return ExitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: portier <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'portier <command> -h' for a command's flags. Every flag can also be set as PORTIER_<FLAG_NAME>.")
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// newFlagSet returns a flag set that reports errors to stderr and does not exit.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("portier "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// setFlags returns the flags given on the command line, by name.
func setFlags(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.Visit(func(f *flag.Flag) { out[f.Name] = f.Value.String() })
	return out
}

// envOr returns the flag's value if set, else its PORTIER_ variable.
func envOr(fs *flag.FlagSet, env Env, name string) string {
	if v, ok := setFlags(fs)[name]; ok {
		return v
	}
	return env("PORTIER_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
}

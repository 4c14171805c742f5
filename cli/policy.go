package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/policy"
	"github.com/portier/portier/proxy"
	"github.com/portier/portier/server"
)

func policyCmd(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprintln(stderr, "usage: portier policy lint FILE | portier policy test --config FILE --route URL [flags]\n"+
			"       portier policy apply -f FILE [--prune] [--server URL] | portier policy export [--server URL]   (token in PORTIER_TOKEN)")
		if len(args) > 0 {
			return ExitOK
		}
		return ExitUsage
	}
	switch args[0] {
	case "lint":
		return policyLint(args[1:], stdout, stderr)
	case "test":
		return policyTest(args[1:], env, stdout, stderr)
	case "apply":
		return policyApply(ctx, args[1:], env, stdout, stderr)
	case "export":
		return policyExport(ctx, args[1:], env, stdout, stderr)
	}
	fmt.Fprintf(stderr, "portier policy: unknown subcommand %q (want lint, test, apply or export)\n", args[0])
	return ExitUsage
}

// LoadPolicies reads a config file and compiles its policies; every
// problem names file:line.
func LoadPolicies(file string) (*config.Config, []*policy.Policy, error) {
	cfg, err := config.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	pols, err := server.CompilePolicies(cfg)
	return cfg, pols, err
}

func policyLint(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || isHelp(args[0]) {
		fmt.Fprintln(stderr, "usage: portier policy lint FILE\n\nChecks a config file's routes and policies; every error names file:line. Exit 0 valid, 2 invalid.")
		if len(args) == 1 {
			return ExitOK
		}
		return ExitUsage
	}
	cfg, pols, err := LoadPolicies(args[0])
	if err != nil {
		var list policy.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stderr, e)
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return ExitUsage
	}
	if _, err := proxy.NewSimulator(cfg.Routes, pols); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", args[0], err)
		return ExitUsage
	}
	fmt.Fprintf(stdout, "%s: ok (%d policies, %d routes)\n", args[0], len(pols), len(cfg.Routes))
	return ExitOK
}

func policyTest(args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlagSet("policy test", stderr)
	file := fs.String("config", "", "config file with routes and policies (required)")
	route := fs.String("route", "", "the URL to test, e.g. https://wiki.example.com/page (required)")
	var q proxy.Query
	fs.StringVar(&q.Email, "email", "", "the user's email")
	fs.StringVar(&q.Groups, "groups", "", "the user's groups, comma-separated")
	fs.StringVar(&q.IdP, "idp", "", "the identity provider id")
	fs.StringVar(&q.MFAAge, "mfa-age", "", "time since the last MFA, e.g. 5m (empty: never)")
	fs.StringVar(&q.SessionAge, "session-age", "", "time since the user signed in, e.g. 9h (empty: just now)")
	fs.StringVar(&q.DeviceTrust, "device-trust", "", "untrusted, low, medium or high (empty: no device)")
	fs.StringVar(&q.Ownership, "ownership", "", "corporate, cope, byod or unmanaged")
	fs.StringVar(&q.Platform, "platform", "", "device platform, e.g. macos")
	fs.BoolVar(&q.Compliant, "compliant", false, "the device is compliant")
	fs.StringVar(&q.Checks, "checks", "", "passing compliance checks, comma-separated")
	fs.StringVar(&q.KeyProtection, "key-protection", "", "where the key of the certificate the request presents lives: hardware, attested (hardware, verified by TPM attestation) or software (default software); a key not in hardware caps the trust at medium")
	fs.StringVar(&q.IP, "ip", "", "client IP address")
	fs.StringVar(&q.Country, "country", "", "client country (ISO code)")
	fs.StringVar(&q.At, "at", "", "the time, RFC 3339 (default now)")
	fs.StringVar(&q.Method, "method", "GET", "HTTP method")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *file == "" || *route == "" {
		fmt.Fprintln(stderr, "portier policy test: --config and --route are required")
		return ExitUsage
	}
	cfg, pols, err := LoadPolicies(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	sim, err := proxy.NewSimulator(cfg.Routes, pols)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	res, err := sim.Ask(*route, q, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "portier policy test: %v\n", err)
		return ExitUsage
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		fmt.Fprintf(stdout, "route: %s\n%s", res.Route, res.Decision.Explain())
		if res.Observed != nil {
			fmt.Fprintf(stdout, "\nreport-only policy would decide:\n%s", res.Observed.Explain())
		}
	}
	if res.Decision.Outcome.Allowed() {
		return ExitOK
	}
	return ExitFail
}

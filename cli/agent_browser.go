package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portier/portier/agent"
	"github.com/portier/portier/posture/collect"
)

// browserFlags adds the flags choosing where the device identity goes.
func browserFlags(fs *flag.FlagSet) {
	fs.String("user-home", "", "install the device identity for the person of this home directory only, as the agent's own user (env PORTIER_USER_HOME)")
	fs.String("browser-policy-dirs", "", "comma-separated Chromium-family managed policy directories (default /etc/chromium, /etc/opt/chrome and /etc/opt/edge policies/managed, when running as root)")
	fs.Bool("no-browser", false, "leave the browsers alone (env PORTIER_NO_BROWSER=1)")
}

// browserOptions turns the browser flags into the agent's options; nil
// leaves the browsers alone.
func browserOptions(fs *flag.FlagSet, env Env, deps agentDeps) *agent.BrowserOptions {
	if deps.BrowserRunner == nil {
		return nil
	}
	switch strings.ToLower(envOr(fs, env, "no-browser")) {
	case "1", "true", "yes", "on":
		return nil
	}
	bo := &agent.BrowserOptions{Stores: agent.DefaultBrowserStores(deps.BrowserRunner)}
	if dirs := envOr(fs, env, "browser-policy-dirs"); dirs != "" {
		var keep []agent.BrowserStore
		for _, s := range bo.Stores {
			if s.Name() != agent.StoreChromePolicy {
				keep = append(keep, s)
			}
		}
		ps := &agent.ChromePolicyStore{}
		for _, d := range strings.Split(dirs, ",") {
			if d = strings.TrimSpace(d); d != "" {
				ps.Dirs = append(ps.Dirs, d)
			}
		}
		bo.Stores = append(keep, ps)
	}
	if home := envOr(fs, env, "user-home"); home != "" {
		bo.Users = func() ([]agent.LocalUser, error) { return []agent.LocalUser{agent.HomeUser(home)}, nil }
	}
	return bo
}

// describePlacement is one line of where the identity is.
func describePlacement(p agent.Placement) string {
	who := "machine-wide"
	if p.User != "" {
		who = "user " + p.User
	}
	return fmt.Sprintf("%-16s %-18s %s", p.Store, who, p.Path)
}

func agentStatus(args []string, env Env, stdout, stderr io.Writer, deps agentDeps) int {
	fs := newFlagSet("agent status", stderr)
	fs.String("state-dir", "", "the enrollment's state directory (default "+agent.DefaultStateDir()+")")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier agent status: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	now := deps.Clock()
	st, err := agent.ReadStatus(orDefault(envOr(fs, env, "state-dir"), agent.DefaultStateDir()), now)
	if err != nil {
		fmt.Fprintf(stderr, "portier agent status: %v\n", err)
		return ExitFail
	}
	code := ExitOK
	if !st.Enrolled {
		code = ExitFail
	}
	if *asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return code
	}
	if !st.Enrolled {
		fmt.Fprintf(stdout, "Not enrolled (state directory %s).\n", st.Dir)
		printPlacements(stdout, st)
		return code
	}
	mode := ""
	if st.WorkProfile {
		mode = ", work profile only"
	}
	fmt.Fprintf(stdout, "Device:       %s (%s%s), enrolled %s with %s\nState:        %s\n",
		st.DeviceID, st.Ownership, mode, st.EnrolledAt.Format(time.RFC3339), st.Server, st.Dir)
	if c := st.Certificate; c != nil {
		state := "valid until " + c.NotAfter.Format(time.RFC3339)
		if c.Expired {
			state = "EXPIRED on " + c.NotAfter.Format(time.RFC3339) + ": run the agent, or enroll again"
		}
		fmt.Fprintf(stdout, "Certificate:  serial %s, %s; renewal after %s\n", c.Serial, state, c.RenewAfter.Format(time.RFC3339))
	} else {
		fmt.Fprintln(stdout, "Certificate:  missing or unreadable: enroll again")
	}
	key := "Key:          " + st.Key
	if st.KeyHardware != "" && st.KeyProtection != "hardware" {
		key += "; this machine has " + st.KeyHardware
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintln(stdout, "Browser key:  "+st.BrowserKey)
	printPlacements(stdout, st)
	if st.LastPosture.SentAt.IsZero() {
		fmt.Fprintln(stdout, "Posture:      no report sent yet")
	} else {
		fmt.Fprintf(stdout, "Posture:      report #%d sent %s\n", st.LastPosture.Seq, st.LastPosture.SentAt.Format(time.RFC3339))
	}
	if len(st.PendingActions) == 0 {
		fmt.Fprintln(stdout, "Actions:      none pending")
	}
	for _, p := range st.PendingActions {
		fmt.Fprintf(stdout, "Actions:      %s started %s and not finished\n", p.ID, p.StartedAt.Format(time.RFC3339))
	}
	return code
}

func printPlacements(w io.Writer, st *agent.Status) {
	if len(st.Browser.Placements) == 0 && len(st.Browser.Errors) == 0 {
		if st.Enrolled {
			fmt.Fprintln(w, "Browsers:     the device identity is not installed in any browser store")
		}
		return
	}
	fmt.Fprintf(w, "Browsers:     installed %s\n", st.Browser.At.Format(time.RFC3339))
	for _, p := range st.Browser.Placements {
		fmt.Fprintf(w, "  %s  serial %s\n", describePlacement(p), p.Serial)
	}
	for _, e := range st.Browser.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	for _, u := range st.UserImports {
		fmt.Fprintf(w, "  logon task of %s: %s\n", u.User, describeUserImport(u))
		for _, e := range u.Errors {
			fmt.Fprintf(w, "    error: %s\n", e)
		}
	}
}

// describeUserImport says where a person's browser certificate and key
// are, or what they wait for.
func describeUserImport(u agent.UserImportStatus) string {
	if u.Imported && u.Provider != "" {
		hw := "software key"
		if u.KeyProtection == "hardware" {
			hw = "hardware key (TPM)"
		}
		s := fmt.Sprintf("certificate %s in %s, %s in the %s, not exportable", u.Thumbprint, u.Store, hw, u.Provider)
		if !u.RenewAfter.IsZero() {
			s += ", renewed after " + u.RenewAfter.Format(time.RFC3339)
		}
		if u.PlatformError != "" {
			s += " (the TPM could not make the key: " + u.PlatformError + ")"
		}
		if u.Waiting == "certificate" || u.Waiting == "install" {
			s += "; its renewal waits for the " + u.Waiting
		}
		return s
	}
	if u.Imported {
		return "certificate " + u.Thumbprint + " imported into Cert:\\CurrentUser\\My (the device's own identity, software key)"
	}
	switch u.Waiting {
	case "certificate":
		return "a key of the person's own is made; its certificate is requested from the server"
	case "install":
		return "the certificate for the person's key is issued; it is installed when their task runs next (at logon)"
	case "logon":
		return "waiting for the person's logon to make their key"
	case "import":
		return "the device's own identity (the server issues no browser certificates) waits for the person's logon to be imported"
	}
	if u.Thumbprint != "" {
		return "certificate " + u.Thumbprint + " waiting for the person's logon"
	}
	return "nothing installed"
}

func agentUnenroll(ctx context.Context, args []string, env Env, stdout, stderr io.Writer, deps agentDeps) int {
	fs := newFlagSet("agent unenroll", stderr)
	fs.String("state-dir", "", "the enrollment's state directory (default "+agent.DefaultStateDir()+")")
	force := fs.Bool("force", false, "delete the enrollment even if the server cannot be told or a browser store cannot be cleaned")
	browserFlags(fs)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier agent unenroll: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	a, err := agent.Open(agent.Options{TPM: deps.TPM, StateDir: orDefault(envOr(fs, env, "state-dir"), agent.DefaultStateDir()), Version: Version,
		Clock: deps.Clock, Runner: deps.Runner, Browser: browserOptions(fs, env, deps),
		Collect: func(context.Context, collect.Allowed) []collect.Signal { return nil }})
	if err != nil {
		fmt.Fprintf(stderr, "portier agent unenroll: %v\n", err)
		return ExitFail
	}
	defer a.Close()
	res, err := a.Unenroll(ctx, *force)
	for _, p := range res.Removed {
		fmt.Fprintf(stdout, "Removed the device identity: %s\n", describePlacement(p))
	}
	if err != nil {
		fmt.Fprintf(stderr, "portier agent unenroll: %v\n", err)
		return ExitFail
	}
	told := "the server retired the device and revoked its certificates"
	if !res.ServerTold {
		told = "the server was NOT told (--force): retire the device in the console"
	}
	fmt.Fprintf(stdout, "Device %s unenrolled: %s; the agent's state is deleted.\n", res.DeviceID, told)
	return ExitOK
}

// agentBrowserImport is what the Windows service's logon task runs as a
// person: it makes the person's own device key and request, installs the
// certificate the service got for it (or the identity the service left,
// on the fallback) in the person's certificate store, and carries out
// removals (see agent.WindowsUserTaskStore).
func agentBrowserImport(ctx context.Context, args []string, stdout, stderr io.Writer, deps agentDeps) int {
	fs := newFlagSet("agent browser-import", stderr)
	dir := fs.String("dir", "", "the person's import directory, as the service's task names it")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 || *dir == "" {
		fmt.Fprintln(stderr, "portier agent browser-import: --dir is required, and nothing else")
		return ExitUsage
	}
	run := deps.BrowserRunner
	if run == nil {
		run = agent.ExecCommands
	}
	res, err := agent.ImportForUser(ctx, *dir, run, deps.Clock())
	if res != nil && res.Imported != "" {
		fmt.Fprintf(stdout, "Device certificate %s is in Cert:\\CurrentUser\\My (%s key).\n", res.Imported, orDefault(res.KeyProtection, "software"))
	}
	if res != nil && res.Pending {
		fmt.Fprintln(stdout, "A device key of your own is made; its certificate is installed when the Portier service has it.")
	}
	if res != nil {
		for _, t := range res.Removed {
			fmt.Fprintf(stdout, "Device certificate %s removed.\n", t)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "portier agent browser-import: %v\n", err)
		return ExitFail
	}
	return ExitOK
}

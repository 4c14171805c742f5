package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/server"
)

// storeFlags adds the flags that choose the store, as serve has them.
func storeFlags(fs *flag.FlagSet) {
	fs.String("config", "", "config file (YAML); env PORTIER_CONFIG")
	fs.String("data-dir", "", "data directory (default ./portier-data)")
	fs.String("store", "", "empty for the embedded store, or a postgres:// DSN; env PORTIER_STORE")
}

// loadStoreConfig loads the config as serve does (flag > env > file),
// leaving out the command's own flags.
func loadStoreConfig(fs *flag.FlagSet, env Env, own ...string) (*config.Config, error) {
	flags := setFlags(fs)
	delete(flags, "config")
	for _, name := range own {
		delete(flags, name)
	}
	return config.Load(envOr(fs, env, "config"), env, flags)
}

// quietLogger reports only warnings and errors, as text, for commands that
// are not servers.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func backupCmd(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", stderr)
	storeFlags(fs)
	fs.String("out", "", "the backup file to create (0600; an existing file is never overwritten), or - for stdout; env PORTIER_OUT")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier backup: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	out := envOr(fs, env, "out")
	if out == "" {
		fmt.Fprintln(stderr, "portier backup: --out FILE is required (or --out - for stdout)")
		return ExitUsage
	}
	cfg, err := loadStoreConfig(fs, env, "out")
	if err != nil {
		fmt.Fprintf(stderr, "portier backup: %v\n", err)
		return ExitUsage
	}
	opts := server.BackupOptions{Config: cfg, Clock: time.Now, Log: quietLogger(stderr)}
	report := stdout
	var res *server.BackupResult
	if out == "-" {
		report = stderr
		res, err = server.Backup(ctx, opts, stdout)
	} else {
		res, err = writeBackupFile(out, func(w io.Writer) (*server.BackupResult, error) { return server.Backup(ctx, opts, w) })
	}
	if err != nil {
		fmt.Fprintf(stderr, "portier backup: %s\n", strings.TrimPrefix(err.Error(), "backup: "))
		return ExitFail
	}
	name := out
	if out == "-" {
		name = "stdout"
	}
	fmt.Fprintf(report, "portier backup: wrote %s and verified it: %d records, %d files, store sequence %d, %d bytes, SHA-256 %s (read from %s)\n",
		name, res.Summary.Records, res.Summary.Files, res.Header.Seq, res.Summary.Bytes, res.Summary.SHA256, res.Via)
	return ExitOK
}

func restoreCmd(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlagSet("restore", stderr)
	storeFlags(fs)
	fs.String("in", "", "the backup file to restore; env PORTIER_IN")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier restore: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	in := envOr(fs, env, "in")
	switch in {
	case "":
		fmt.Fprintln(stderr, "portier restore: --in FILE is required")
		return ExitUsage
	case "-":
		fmt.Fprintln(stderr, "portier restore: --in needs a file, not stdin: the file is read twice (verified in full before anything is written)")
		return ExitUsage
	}
	cfg, err := loadStoreConfig(fs, env, "in")
	if err != nil {
		fmt.Fprintf(stderr, "portier restore: %v\n", err)
		return ExitUsage
	}
	res, err := server.Restore(ctx, server.RestoreOptions{
		Config: cfg, Getenv: env, Clock: time.Now, Log: quietLogger(stderr), Actor: localActor(),
	}, in)
	if err != nil {
		fmt.Fprintf(stderr, "portier restore: %s\n", strings.TrimPrefix(err.Error(), "restore: "))
		return ExitFail
	}
	h := res.Header
	fmt.Fprintf(stdout, "portier restore: restored %s into %s: %d records (backup of a %s store at sequence %d, taken %s).\n",
		in, res.Target, res.Imported, h.Backend, h.Seq, h.CreatedAt.Format(time.RFC3339))
	if res.Converted != "" {
		fmt.Fprintf(stdout, "  Converted %s: the CA and the assertion signing keys are kept the target's way.\n", res.Converted)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stdout, "  Note: %s.\n", n)
	}
	fmt.Fprintf(stdout, "  Root fingerprint:   SHA256 %s\n  Start `portier serve` with the same settings to use it.\n", res.Fingerprint)
	return ExitOK
}

// localActor names the operating-system user, for the audit log.
func localActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return "local:uid=" + strconv.Itoa(os.Getuid())
}

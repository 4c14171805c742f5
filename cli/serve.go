package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/server"
)

func serve(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	fs.String("config", "", "config file (YAML); env PORTIER_CONFIG")
	for _, f := range []struct{ name, help string }{
		{"data-dir", "data directory (default ./portier-data)"},
		{"listen", "HTTPS listen address (default :8443)"},
		{"external-url", "the URL users reach Portier at (default https://localhost:8443)"},
		{"metrics-listen", "Prometheus /metrics address, or off (default 127.0.0.1:9464)"},
		{"metrics-pprof", "on: serve Go's pprof profiles under /debug/pprof/ on the metrics listener only (default off)"},
		{"store", "empty for the embedded store, or a postgres:// DSN; env PORTIER_STORE"},
		{"max-staleness", "with a shared store: refuse after this long without confirming this replica is caught up (default 2s)"},
		{"tpm-ek-roots", "PEM file of TPM manufacturer CA certificates: attested TPM keys chaining to them are tpm_attested (default none)"},
		{"log-format", "json or text (default json)"},
		{"log-level", "debug, info, warn or error (default info)"},
		{"config-policies", "who owns routes and policies: store (default: the file seeds the store once) or file (the file stays authoritative)"},
	} {
		fs.String(f.name, "", f.help)
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "portier serve: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	flags := setFlags(fs)
	delete(flags, "config")
	cfg, err := config.Load(envOr(fs, env, "config"), env, flags)
	if err != nil {
		fmt.Fprintf(stderr, "portier serve: %v\n", err)
		return ExitUsage
	}
	pols, err := server.CompilePolicies(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "portier serve: %v\n", err)
		return ExitUsage
	}
	log := newLogger(cfg, stderr)
	srv, err := server.Start(ctx, server.Options{Config: cfg, Policies: pols, Log: log, Clock: time.Now, Getenv: env, Banner: stdout})
	if err != nil {
		log.Error("cannot start", "err", err)
		fmt.Fprintf(stderr, "portier serve: %v\n", err)
		return ExitFail
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := srv.Reload(env, flags); err != nil {
				log.Error("config reload failed; keeping the running config", "err", err)
			}
		}
	}()
	if err := srv.Serve(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return ExitFail
	}
	log.Info("stopped")
	return ExitOK
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

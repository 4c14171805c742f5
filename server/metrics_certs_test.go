package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/config"
)

// serveWithMetrics starts and serves a server on the external URL
// https://localhost:8443 with a metrics listener, and the config lines
// extra; getenv (nil: empty) is its environment. stop ends it and returns
// Serve's error; it runs when the test ends if the test did not call it.
func serveWithMetrics(t *testing.T, extra string, getenv func(string) string) (srv *Server, addr, maddr string, stop func() error) {
	t.Helper()
	srv, addr, maddr, stop, err := startWithMetrics(t, extra, Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	return srv, addr, maddr, stop
}

// startWithMetrics is serveWithMetrics with more options (o's Config,
// Policies and Clock are set here, and Log unless given), returning Start's
// error.
func startWithMetrics(t *testing.T, extra string, o Options) (srv *Server, addr, maddr string, stop func() error, err error) {
	t.Helper()
	addr, maddr = freeAddr(t), freeAddr(t)
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf("external_url: https://localhost:8443\nlisten: %s\nmetrics_listen: %s\ndata_dir: %s\n%s",
		addr, maddr, filepath.Join(t.TempDir(), "data"), extra)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	pols, err := CompilePolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.Config, o.Policies, o.Clock = cfg, pols, time.Now
	if srv, err = Start(context.Background(), o); err != nil {
		return nil, "", "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop = func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() { _ = stop() })
	return srv, addr, maddr, stop, nil
}

// An operator's expiry alert reads the certificates' end dates from
// /metrics: each value must be the date the certificate really carries
// (the listener's as a client sees it in the handshake).
func TestCertificateExpiryMetrics(t *testing.T) {
	srv, addr, maddr, _ := serveWithMetrics(t, "", nil)

	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the presented certificate
	if err != nil {
		t.Fatal(err)
	}
	listener := conn.ConnectionState().PeerCertificates[0]
	conn.Close()

	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for cert, want := range map[string]time.Time{
		"root":         srv.CA().Roots()[0].NotAfter,
		"intermediate": srv.CA().Intermediate().NotAfter,
		"listener":     listener.NotAfter,
	} {
		var got float64
		line := ""
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, `portier_certificate_not_after_seconds{cert="`+cert+`"} `) {
				line = l
			}
		}
		if _, err := fmt.Sscanf(strings.TrimPrefix(line, `portier_certificate_not_after_seconds{cert="`+cert+`"} `), "%g", &got); err != nil || line == "" {
			t.Errorf("no portier_certificate_not_after_seconds for %s in /metrics (%v)", cert, err)
			continue
		}
		if int64(got) != want.Unix() {
			t.Errorf("%s: metric %d, certificate NotAfter %d", cert, int64(got), want.Unix())
		}
	}
}

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/config"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/server"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// benchUserID is who the load generator is signed in as.
const benchUserID = "usr_alice"

// benchSession is the load generator's user: staff, so every route's
// "staff-managed" rule matches, and in none of the per-team groups.
func benchSession() store.Session {
	return store.Session{UserID: benchUserID, Email: "alice@example.com", IdP: "local",
		Groups: []string{"everyone", "staff", "eng", "oncall", "berlin"}}
}

// startPortier starts Portier in-process on an embedded store in dataDir,
// with routeCount routes to upstream, devices devices in its store, a
// signed-in session per route host and a device certificate for one of the
// devices, recording access when record is set; it returns the target
// (already checked to be allowed through) and a function that stops Portier.
func startPortier(ctx context.Context, dataDir, upstream string, devices int, record bool, logw io.Writer) (*target, func(), error) {
	cfg, err := config.Parse("portier-bench.yaml", []byte(portierConfig(dataDir, upstream)))
	if err != nil {
		return nil, nil, err
	}
	cfg.Decisions.Record = &record
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	pols, err := server.CompilePolicies(cfg)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Start(ctx, server.Options{Config: cfg, Policies: pols, Log: log, Clock: time.Now,
		Getenv: func(string) string { return "" }})
	if err != nil {
		return nil, nil, fmt.Errorf("portier did not start: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	pprof.Do(sctx, pprof.Labels("role", "portier"), func(ctx context.Context) {
		wg.Go(func() {
			if err := srv.Serve(ctx); err != nil {
				fmt.Fprintf(logw, "portier-bench: portier stopped: %v\n", err)
			}
		})
	})
	stop := func() { cancel(); wg.Wait() }

	t, err := fillPortier(ctx, srv, devices)
	if err != nil {
		stop()
		return nil, nil, err
	}
	t.addr = srv.Addr()
	if err := checkPortier(ctx, t); err != nil {
		stop()
		return nil, nil, err
	}
	return t, stop, nil
}

// fillPortier writes the devices, sessions and device certificate the run
// needs, and returns the target without its address.
func fillPortier(ctx context.Context, srv *server.Server, devices int) (*target, error) {
	st, now := srv.Store(), time.Now()
	if err := storetest.PutLaptops(ctx, st, devices, now); err != nil {
		return nil, err
	}
	laptop := storetest.Laptop(devices/2, now)
	laptop.OwnerEmail = benchSession().Email // a device counts only for its owner
	cert, err := deviceCert(ctx, srv.CA(), st, laptop)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, r := range srv.CA().Roots() {
		roots.AddCert(r)
	}
	t := &target{name: targetPortier, proto: "https+mTLS",
		tls: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}}
	cookies, err := writeSessions(ctx, st, now)
	if err != nil {
		return nil, err
	}
	for i := range routeCount {
		t.urls = append(t.urls, "https://"+routeHost(i)+"/bench")
		t.cookies = append(t.cookies, identity.SessionCookie+"="+cookies[i])
	}
	return t, nil
}

// deviceCert has Portier's CA issue a client certificate to d, as
// enrollment does, and records its serial on the device.
func deviceCert(ctx context.Context, c *ca.CA, st *store.Store, d *store.Device) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: d.ID}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	chain, err := c.IssueDevice(ctx, csr, d.ID, ca.KeyInfo{})
	if err != nil {
		return tls.Certificate{}, err
	}
	d.CertSerial = chain[0].SerialNumber.String()
	if err := st.Write(ctx, store.Put(d)); err != nil {
		return tls.Certificate{}, err
	}
	out := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, crt := range chain {
		out.Certificate = append(out.Certificate, crt.Raw)
	}
	return out, nil
}

// writeSessions creates a console session and, as the sign-in hand-off
// does, one child session per route host; it returns the route hosts'
// cookie values.
func writeSessions(ctx context.Context, st *store.Store, now time.Time) ([]string, error) {
	parent := benchSession()
	_, parent.ID = identity.NewSessionSecret()
	parent.CreatedAt, parent.LastSeen, parent.MFAAt = now, now, now
	parent.ExpiresAt = now.Add(identity.SessionAbsolute)
	ops := []store.Op{store.Put(&parent)}
	var cookies []string
	for i := range routeCount {
		child := parent
		var cookie string
		cookie, child.ID = identity.NewSessionSecret()
		child.ParentID, child.Host = parent.ID, routeHost(i)
		ops = append(ops, store.Put(&child))
		cookies = append(cookies, cookie)
	}
	return cookies, st.Write(ctx, ops...)
}

// checkPortier proves every route lets the benchmark's requests through
// with the device recognised and a signed assertion sent upstream.
func checkPortier(ctx context.Context, t *target) error {
	if err := preflight(ctx, t); err != nil {
		return err
	}
	c := t.client()
	defer c.CloseIdleConnections()
	for i, u := range t.urls {
		u = strings.TrimSuffix(u, "/bench") + whoamiPath
		body, err := get(ctx, c, u, t.cookies[i])
		if err != nil {
			return fmt.Errorf("portier: %w", err)
		}
		if got := string(body); !strings.Contains(got, "user="+benchUserID+" device=dev_") ||
			!strings.Contains(got, "trust=high") || !strings.Contains(got, "assertion=true") {
			return fmt.Errorf("portier: %s: the upstream saw %q, want the bench user on a high-trust device with an assertion", u, got)
		}
	}
	return nil
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

// oauth2ProxyModule is the oauth2-proxy release compared against.
const oauth2ProxyModule = "github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.3"

// buildOAuth2Proxy builds oauth2-proxy into dir with go install (the Go
// build cache makes later runs quick) and returns the binary's path.
func buildOAuth2Proxy(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "install", oauth2ProxyModule)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building oauth2-proxy (go install %s): %w\n%s", oauth2ProxyModule, err, out)
	}
	return filepath.Join(dir, "oauth2-proxy"), nil
}

// startOAuth2Proxy runs oauth2-proxy with HTTPS on 127.0.0.1 in front of
// upstream, against an in-process mock OIDC provider, signs in once through
// its real login flow and returns the target carrying the session cookie.
func startOAuth2Proxy(ctx context.Context, bin, dir, upstream string, cert tls.Certificate) (_ *target, _ func(), err error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()

	idp, err := mockoidc.NewServer(nil)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	if err := idp.Start(ln, nil); err != nil {
		return nil, nil, err
	}
	stops = append(stops, func() { _ = idp.Shutdown() })

	certFile, keyFile, err := writeCert(dir, cert)
	if err != nil {
		return nil, nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	base := "https://" + addr
	cmd := exec.Command(bin,
		"--provider=oidc",
		"--oidc-issuer-url="+idp.Issuer(),
		"--client-id="+idp.ClientID,
		"--client-secret="+idp.ClientSecret,
		"--cookie-secret="+base64.RawURLEncoding.EncodeToString(secret),
		"--email-domain=*",
		"--upstream=http://"+upstream+"/",
		"--http-address=-",
		"--https-address="+addr,
		"--tls-cert-file="+certFile,
		"--tls-key-file="+keyFile,
		"--redirect-url="+base+"/oauth2/callback",
		"--request-logging=false", // Portier logs no allowed request by default either
		"--silence-ping-logging",
	)
	// A clean environment: no OAUTH2_PROXY_* settings or proxies leak in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	logPath := filepath.Join(dir, "oauth2-proxy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("oauth2-proxy did not start: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	stops = append(stops, func() { _ = cmd.Process.Kill(); <-exited })

	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	tlsCfg := &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}}
	if err := waitReady(ctx, base+"/ping", tlsCfg, exited); err != nil {
		return nil, nil, fmt.Errorf("oauth2-proxy did not start: %w\n%s", err, tail(logPath))
	}
	cookie, err := signIn(ctx, base, tlsCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("oauth2-proxy sign-in: %w\n%s", err, tail(logPath))
	}
	t := &target{name: targetOAuth2, proto: "https", addr: addr, urls: []string{base + "/bench"},
		cookies: []string{cookie}, tls: tlsCfg, pid: cmd.Process.Pid}
	if err := preflight(ctx, t); err != nil {
		return nil, nil, err
	}
	return t, stop, nil
}

// signIn drives oauth2-proxy's login flow once, as a browser would:
// /oauth2/start → the provider's authorize endpoint → /oauth2/callback →
// the page asked for; it returns the Cookie header holding the session.
func signIn(ctx context.Context, base string, tlsCfg *tls.Config) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil, DialContext: dialLoopback, TLSClientConfig: tlsCfg.Clone()}}
	defer c.CloseIdleConnections()
	body, err := get(ctx, c, base+"/oauth2/start?rd=%2F", "")
	if err != nil {
		return "", fmt.Errorf("%w (body %.300q)", err, body)
	}
	if string(body) != upstreamBody {
		return "", fmt.Errorf("after the login flow the page is not the upstream's: %.300q", body)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		if strings.HasPrefix(ck.Name, "_oauth2_proxy") && !strings.HasSuffix(ck.Name, "_csrf") {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
	}
	if len(parts) == 0 {
		return "", errors.New("no _oauth2_proxy session cookie after the login flow")
	}
	return strings.Join(parts, "; "), nil
}

// dialLoopback dials addr only if it is on 127.0.0.1.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("portier-bench only dials 127.0.0.1, not %s", addr)
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
}

// waitReady polls url until it answers 200, the process exits or 30 s pass.
func waitReady(ctx context.Context, url string, tlsCfg *tls.Config, exited <-chan struct{}) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DialContext: dialLoopback, TLSClientConfig: tlsCfg.Clone()}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := get(ctx, c, url, ""); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 30 s: %w", url, err)
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeCert writes cert's leaf and key as PEM files into dir.
func writeCert(dir string, cert tls.Certificate) (certFile, keyFile string, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(certFile, crt, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, key, 0o600)
}

// freeAddr returns a 127.0.0.1 address with a port free right now, for a
// server in another process to bind.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "oauth2-proxy log (" + path + "):\n" + string(bytes.Join(lines, []byte("\n")))
}

package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portier/portier/agentwire"
)

// requestTimeout bounds every call but the long poll.
const requestTimeout = 30 * time.Second

// maxResponseBytes bounds what the agent reads from the server.
const maxResponseBytes = 4 << 20

// APIError is an error answer from the server.
type APIError struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("server answered %d", e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// IsStatus reports whether err is an APIError with the given status.
func IsStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}

// client calls the Portier server, trusting only the pinned root and
// presenting the device certificate (when it has one).
type client struct {
	base string
	http *http.Client
	cert atomic.Pointer[tls.Certificate]
}

// newClient returns a client for server whose TLS certificate must chain
// to roots (and to nothing else).
func newClient(server string, roots *x509.CertPool, cert *tls.Certificate) *client {
	c := &client{base: strings.TrimSuffix(server, "/")}
	if cert != nil {
		c.cert.Store(cert)
	}
	cfg := &tls.Config{
		RootCAs:    roots,
		MinVersion: tls.VersionTLS12,
		// The agent's mark: the server answers with Portier's CA's
		// certificate even where browsers get an ACME one.
		NextProtos: []string{"h2", "http/1.1", agentwire.ALPN},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if crt := c.cert.Load(); crt != nil {
				return crt, nil
			}
			return &tls.Certificate{}, nil // none: the server asks, optionally
		},
	}
	c.http = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 15 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		Proxy:               http.ProxyFromEnvironment,
	}}
	return c
}

// setCert switches to a renewed certificate; new connections present it.
func (c *client) setCert(crt *tls.Certificate) {
	c.cert.Store(crt)
	c.http.CloseIdleConnections()
}

// close releases the client's connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// call sends a JSON request (body may be nil) and decodes a JSON answer
// into out (which may be nil). Non-2xx answers are *APIError.
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(agentwire.VersionHeader, agentwire.Version)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if err := checkServerVersion(resp.Header.Get(agentwire.VersionHeader)); err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, path, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("agent: %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode}
		var b agentwire.ErrorBody
		if json.Unmarshal(data, &b) == nil {
			e.Code, e.Message, e.Field = b.Error.Code, b.Error.Message, b.Error.Field
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("agent: %s %s: malformed answer: %w", method, path, err)
	}
	return nil
}

// checkServerVersion refuses a server that speaks another major version of
// the agent protocol: its answers would be misread. No header is a server
// older than the header, which speaks 1.0.
func checkServerVersion(v string) error {
	err := agentwire.CheckVersion(v)
	var ve *agentwire.VersionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve) && ve.PeerNewer():
		return fmt.Errorf("the server speaks Portier agent protocol %s and this agent speaks %s: upgrade the Portier agent", ve.Peer, agentwire.Version)
	case errors.As(err, &ve):
		return fmt.Errorf("the server speaks Portier agent protocol %s and this agent speaks %s: upgrade the Portier server, or install the agent of the server's version", ve.Peer, agentwire.Version)
	}
	return fmt.Errorf("the server sent a malformed %s header: %w", agentwire.VersionHeader, err)
}

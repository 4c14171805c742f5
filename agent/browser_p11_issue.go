package agent

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"

	"github.com/portier/portier/agentwire"
)

// browserCertificate asks the server for a certificate for a person's TPM
// browser key (POST /api/v1/agent/browser-certificates, protocol 1.2): the
// key's protection is the agent's statement, "hardware".
func (a *Agent) browserCertificate(ctx context.Context, person string, csrPEM []byte) ([]*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var ans agentwire.Certificate
	req := agentwire.BrowserCertificateRequest{CSR: string(csrPEM), Person: person, KeyProtection: agentwire.KeyHardware}
	if err := a.c.call(ctx, http.MethodPost, "/api/v1/agent/browser-certificates", req, &ans); err != nil {
		return nil, err
	}
	return parseChain([]byte(ans.Certificate))
}

// parseChain reads a PEM chain (leaf first).
func parseChain(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("agent: the browser certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("agent: the server sent no browser certificate")
	}
	return certs, nil
}

// logTPMFallbacks has the TPM browser keys of the NSS stores log to the
// agent's log.
func (a *Agent) logTPMFallbacks(stores []BrowserStore) {
	for _, s := range stores {
		if n, ok := s.(*NSSStore); ok && n.TPM != nil && n.TPM.Log == nil {
			n.TPM.Log = a.o.Log
		}
	}
}

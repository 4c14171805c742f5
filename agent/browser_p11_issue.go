package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/portier/portier/agentwire"
)

// browserCertificate asks the server for a certificate for a person's TPM
// browser key (POST /api/v1/agent/browser-certificates, protocol 1.2), for
// the key of csrPEM: the key's protection is the agent's statement,
// "hardware".
func (a *Agent) browserCertificate(ctx context.Context, person string, csrPEM []byte) ([]*x509.Certificate, error) {
	blk, _ := pem.Decode(csrPEM)
	if blk == nil {
		return nil, errors.New("agent: the browser key's CSR is not PEM")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("agent: the browser key's CSR: %w", err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("agent: the browser key is not an ECDSA key")
	}
	req := agentwire.BrowserCertificateRequest{CSR: string(csrPEM), Person: person, KeyProtection: agentwire.KeyHardware}
	ans, err := a.issueBrowserCertificate(ctx, req, pub)
	if err != nil {
		return nil, err
	}
	return parseChain([]byte(ans.Certificate), "the browser certificate")
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

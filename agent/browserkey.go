package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/portier/portier/agentwire"
)

// A key in the TPM cannot be copied into NSS, the macOS keychain or a
// Windows PFX. When the device key is in the TPM, the browsers get an
// identity of their own: a software key (browser.key, 0600 in the state
// directory) with a certificate the server issues for this device on the
// agent's mutual-TLS call POST /api/v1/agent/browser-certificates. The
// agent renews it, with the same key, once two thirds of its lifetime have
// passed; it is removed from the browsers, and its files deleted, exactly
// as the device identity is (unenroll, revoke, retire, wipe).

// browserCredentials returns the key and certificate chain (leaf first,
// without the root) the browsers get: the device key and device.crt when
// the device key is a software key, else the browser key and its
// certificate, asked for or renewed when needed.
func (a *Agent) browserCredentials(ctx context.Context) (crypto.PrivateKey, []*x509.Certificate, error) {
	if a.tpm == nil {
		b, err := os.ReadFile(filepath.Join(a.dir, CertFile))
		if err != nil {
			return nil, nil, err
		}
		certs, err := parseChain(b, CertFile)
		return a.key, certs, err
	}
	return a.browserKey(ctx)
}

// browserKey returns the browser key and a current certificate for it.
func (a *Agent) browserKey(ctx context.Context) (crypto.PrivateKey, []*x509.Certificate, error) {
	key, err := a.loadOrMakeBrowserKey()
	if err != nil {
		return nil, nil, err
	}
	var certs []*x509.Certificate
	if b, err := os.ReadFile(filepath.Join(a.dir, BrowserCrtFile)); err == nil {
		if c, err := parseChain(b, BrowserCrtFile); err == nil && c[0].PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
			certs = c
		}
	}
	now := a.o.Clock()
	if certs != nil && now.Before(renewPoint(certs[0])) {
		return key, certs, nil
	}
	fresh, err := a.requestBrowserCertificate(ctx, key)
	if err == nil {
		return key, fresh, nil
	}
	if certs != nil && now.Before(certs[0].NotAfter) {
		// Still valid: keep it in the browsers and try again next cycle.
		a.o.Log.Warn("agent: the browser certificate is due for renewal and could not be renewed", "err", err)
		return key, certs, nil
	}
	return nil, nil, err
}

// renewPoint is two thirds into the certificate's lifetime.
func renewPoint(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// loadOrMakeBrowserKey reads browser.key, or makes and saves it.
func (a *Agent) loadOrMakeBrowserKey() (*ecdsa.PrivateKey, error) {
	path := filepath.Join(a.dir, BrowserKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != pemSoftwareKey {
			return nil, fmt.Errorf("agent: %s is not a PEM private key", BrowserKeyFile)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("agent: %s: %w", BrowserKeyFile, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("agent: %s is not an ECDSA key", BrowserKeyFile)
		}
		return ek, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("agent: read %s: %w", BrowserKeyFile, err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: pemSoftwareKey, Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("agent: write %s: %w", BrowserKeyFile, err)
	}
	return k, nil
}

// requestBrowserCertificate asks the server for a certificate for the
// browser key, for every local person (Person ""), and saves it.
func (a *Agent) requestBrowserCertificate(ctx context.Context, key *ecdsa.PrivateKey) ([]*x509.Certificate, error) {
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	req := agentwire.BrowserCertificateRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})),
		KeyProtection: agentwire.KeySoftware}
	ans, err := a.issueBrowserCertificate(ctx, req, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("agent: ask for the browsers' certificate: %w", err)
	}
	chainPEM := []byte(ans.Certificate)
	if err := writeFileAtomic(filepath.Join(a.dir, BrowserCrtFile), chainPEM, 0o644); err != nil {
		return nil, fmt.Errorf("agent: write %s: %w", BrowserCrtFile, err)
	}
	a.o.Log.Info("agent: browser certificate issued", "device", a.st.DeviceID)
	return parseChain(chainPEM, BrowserCrtFile)
}

// browserCertificatePath is the server's browser-certificate call.
const browserCertificatePath = "/api/v1/agent/browser-certificates"

// issueBrowserCertificate asks the server for a certificate for a
// person's key and checks the answer is for that key and chains to the
// pinned root.
func (a *Agent) issueBrowserCertificate(ctx context.Context, req agentwire.BrowserCertificateRequest, pub *ecdsa.PublicKey) (*agentwire.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var ans agentwire.Certificate
	if err := a.c.call(ctx, http.MethodPost, browserCertificatePath, req, &ans); err != nil {
		return nil, err
	}
	chain, _, err := checkIssued(ans.Certificate, pub, a.roots)
	if err != nil {
		return nil, err
	}
	ans.Certificate = string(chain)
	return &ans, nil
}

// parseChain reads a PEM certificate chain, leaf first.
func parseChain(b []byte, name string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("agent: %s: %w", name, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("agent: %s holds no certificate", name)
	}
	if _, ok := certs[0].PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("agent: %s is not for an ECDSA key", name)
	}
	return certs, nil
}

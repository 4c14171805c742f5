package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/portier/portier/agentwire"
)

// TPMBrowserKey is a person's browser key that the agent (root) made in
// the TPM and had certified: the person's token only links to it.
type TPMBrowserKey struct {
	// File is the key as a TSS2 PRIVATE KEY PEM under the SRK
	// (0x81000001), what `tpm2_ptool link` reads. It holds the TPM's
	// wrapped blob: useless on any other TPM.
	File []byte
	// Chain is the browser certificate, then the intermediates.
	Chain []*x509.Certificate
	// Source is the certificate's key protection source as the server
	// said it (tpm_attested, agent_claim), "" when it did not say.
	Source string
}

// NewTPMBrowserKeyFunc makes a browser key for person in the TPM and gets
// its certificate.
type NewTPMBrowserKeyFunc func(ctx context.Context, person string) (*TPMBrowserKey, error)

// TPMBrowserKeyMaker makes people's TPM browser keys exactly as the agent
// makes its device key in the TPM (newAttestedTPMKey): a key created by
// the agent under the SRK, certified by an attestation key whose
// challenge the server issued to this device, so the server can record it
// as hardware (tpm_attested) although it ends up in the person's store.
type TPMBrowserKeyMaker struct {
	// TPM opens the TPM (default OpenSystemTPM).
	TPM TPMOpener
	// Challenge asks the server for an attestation challenge (POST
	// /api/v1/agent/attest/challenge over mutual TLS, with no code).
	Challenge func(ctx context.Context, req agentwire.AttestChallengeRequest) (agentwire.AttestChallenge, error)
	// Issue asks for the browser certificate (POST
	// /api/v1/agent/browser-certificates) and checks it is for pub.
	Issue func(ctx context.Context, req agentwire.BrowserCertificateRequest, pub *ecdsa.PublicKey) (*agentwire.Certificate, error)
	// Log receives why a key is not attested (default: discard).
	Log *slog.Logger
	// Dir, when set, is the state directory where the keys made are kept
	// (TPMBrowserKeysFile), so that installing again (after a renewal of
	// the device certificate, or a retry after another store failed)
	// reuses a person's key and certificate until the certificate's
	// renewal point instead of asking the server for one more.
	Dir string
	// Now is the clock for that renewal point (default time.Now).
	Now func() time.Time
}

// cachedTPMBrowserKey is one person's entry of TPMBrowserKeysFile.
type cachedTPMBrowserKey struct {
	File   string `json:"file"`  // TSS2 PRIVATE KEY PEM
	Chain  string `json:"chain"` // PEM, leaf first
	Source string `json:"source,omitempty"`
}

// cached returns person's kept key while its certificate is before its
// renewal point (two thirds of its lifetime), nil otherwise.
func (m *TPMBrowserKeyMaker) cached(person string) *TPMBrowserKey {
	if m.Dir == "" {
		return nil
	}
	keys := map[string]cachedTPMBrowserKey{}
	b, err := os.ReadFile(filepath.Join(m.Dir, TPMBrowserKeysFile))
	if err != nil || json.Unmarshal(b, &keys) != nil {
		return nil
	}
	c, ok := keys[person]
	if !ok {
		return nil
	}
	chain, err := parseChain([]byte(c.Chain), TPMBrowserKeysFile)
	if err != nil {
		return nil
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	leaf := chain[0]
	if now.After(leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3)) {
		return nil
	}
	return &TPMBrowserKey{File: []byte(c.File), Chain: chain, Source: c.Source}
}

// keep records person's new key in TPMBrowserKeysFile (only a key the
// server certified as hardware is kept).
func (m *TPMBrowserKeyMaker) keep(person string, k *TPMBrowserKey) error {
	if m.Dir == "" {
		return nil
	}
	path := filepath.Join(m.Dir, TPMBrowserKeysFile)
	keys := map[string]cachedTPMBrowserKey{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &keys) // a damaged file is rewritten
	}
	var chain []byte
	for _, c := range k.Chain {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	keys[person] = cachedTPMBrowserKey{File: string(k.File), Chain: string(chain), Source: k.Source}
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

// New makes person's browser key in the TPM, proves it to the server and
// returns it with its certificate. The TPM is closed when it returns (a
// person's tools use it next).
func (m *TPMBrowserKeyMaker) New(ctx context.Context, person string) (*TPMBrowserKey, error) {
	if m.Challenge == nil || m.Issue == nil {
		return nil, errors.New("agent: the server cannot be asked for a browser certificate")
	}
	log := m.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if k := m.cached(person); k != nil {
		return k, nil
	}
	tk, err := newTPMBrowserKey(ctx, m.TPM, m.Challenge)
	if err != nil {
		return nil, fmt.Errorf("agent: the TPM browser key: %w", err)
	}
	if tk.att == nil {
		log.Warn("agent: the TPM browser key is not attested; the server records it as a software key", "user", person, "reason", tk.attestErr)
	}
	pub := tk.pub
	req := agentwire.BrowserCertificateRequest{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tk.csr})),
		Person: person, KeyProtection: agentwire.KeyHardware, Attestation: tk.att}
	ans, err := m.Issue(ctx, req, pub)
	if err != nil {
		return nil, fmt.Errorf("agent: ask the server for a browser certificate: %w", err)
	}
	chain, err := parseChain([]byte(ans.Certificate), "the browser certificate")
	if err != nil {
		return nil, err
	}
	if !pub.Equal(chain[0].PublicKey) {
		return nil, errors.New("agent: the server's browser certificate is not for the TPM key")
	}
	k := &TPMBrowserKey{File: tk.file, Chain: chain, Source: ans.KeyProtectionSource}
	if ans.KeyProtection != agentwire.KeyHardware {
		// Not verified this time: the next installation tries again.
		return k, nil
	}
	if err := m.keep(person, k); err != nil {
		log.Warn("agent: the TPM browser key is not kept; the next installation makes another", "user", person, "err", err)
	}
	return k, nil
}

// tpmBrowserKeyMaker is the agent's: its TPM, its server over mutual TLS.
func (a *Agent) tpmBrowserKeyMaker() *TPMBrowserKeyMaker {
	return &TPMBrowserKeyMaker{TPM: a.o.TPM, Challenge: clientChallenge(a.c, ""), Issue: a.issueBrowserCertificate, Log: a.o.Log,
		Dir: a.dir, Now: a.o.Clock}
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

// writePersonFiles writes files (0600) into dir for the person's tools,
// giving them to the person.
func writePersonFiles(dir string, u LocalUser, chown func(string, int, int) error, files map[string][]byte) error {
	if chown == nil {
		chown = os.Chown
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		_ = os.Remove(p)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if !u.AsAgent {
			if err := chown(p, u.UID, u.GID); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkTPMBrowserKey checks that k's certificate is for the key of its
// file, before both are handed to the person's token.
func checkTPMBrowserKey(k *TPMBrowserKey) error {
	if k == nil || len(k.Chain) == 0 {
		return errors.New("no TPM browser key or certificate")
	}
	blk, _ := pem.Decode(k.File)
	if blk == nil || blk.Type != pemTPMKey {
		return errors.New("the TPM browser key is not a TSS2 PRIVATE KEY")
	}
	pubArea, _, err := decodeTPMKeyFile(blk.Bytes)
	if err != nil {
		return err
	}
	pub, err := tpm2.DecodePublic(pubArea)
	if err != nil {
		return fmt.Errorf("the TPM browser key's public area: %w", err)
	}
	key, err := pub.Key()
	if err != nil {
		return fmt.Errorf("the TPM browser key's public area: %w", err)
	}
	if ec, ok := key.(*ecdsa.PublicKey); !ok || !ec.Equal(k.Chain[0].PublicKey) {
		return errors.New("the browser certificate is not for the TPM browser key")
	}
	return nil
}

package agent

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/go-attestation/attest"
)

// Where the agent keeps its device key (`portier agent enroll --key`).
const (
	// KeyModeAuto: in the TPM when one opens and works, else software.
	KeyModeAuto = "auto"
	// KeyModeTPM: in the TPM, or no enrollment.
	KeyModeTPM = "tpm"
	// KeyModeSoftware: a software key in device.key, as before TPM support.
	KeyModeSoftware = "software"
)

// TPMOpener opens the machine's TPM 2.0 as a command channel (the default,
// OpenSystemTPM, opens /dev/tpmrm0 on Linux and TBS on Windows). Tests
// pass a software TPM.
type TPMOpener func() (attest.CommandChannelTPM20, error)

// tpmTimeout bounds one TPM command sequence (a signature, loading the
// key): a TPM that stops answering fails the call instead of hanging the
// agent.
const tpmTimeout = 30 * time.Second

// openTPM opens the TPM through open.
func openTPM(open TPMOpener) (*attest.TPM, error) {
	t, _, err := openTPMChannel(open)
	return t, err
}

// openTPMChannel opens the TPM through open, and returns its command
// channel too (for go-tpm commands; closing t closes it).
func openTPMChannel(open TPMOpener) (*attest.TPM, attest.CommandChannelTPM20, error) {
	if open == nil {
		open = OpenSystemTPM
	}
	ch, err := open()
	if err != nil {
		return nil, nil, err
	}
	t, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: ch})
	if err != nil {
		ch.Close()
		return nil, nil, err
	}
	return t, ch, nil
}

// tpmSigner is the device key in the TPM as a crypto.Signer: it holds one
// TPM handle for the agent's life, serializes the TPM's commands (TLS
// handshakes may sign at once), and after a failure reopens the TPM and
// loads the key again from its blob before the next signature.
type tpmSigner struct {
	open TPMOpener
	blob []byte // what attest.TPM.LoadKey reads
	pub  *ecdsa.PublicKey
	log  *slog.Logger

	mu     sync.Mutex
	tpm    *attest.TPM
	key    *attest.Key
	signer crypto.Signer
}

var _ crypto.Signer = (*tpmSigner)(nil)

// loadTPMSigner opens the TPM and loads the key of device.key (its public
// and private areas).
func loadTPMSigner(open TPMOpener, pubArea, privArea []byte, log *slog.Logger) (*tpmSigner, error) {
	blob, err := loadableBlob(pubArea, privArea)
	if err != nil {
		return nil, err
	}
	s := &tpmSigner{open: open, blob: blob, log: log}
	h, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("agent: the device key is in a TPM that cannot be used: %w", err)
	}
	s.set(h)
	return s, nil
}

// tpmHandle is an open TPM with the device key loaded.
type tpmHandle struct {
	tpm    *attest.TPM
	key    *attest.Key
	signer crypto.Signer
	pub    *ecdsa.PublicKey
}

func (h *tpmHandle) close() {
	if h == nil {
		return
	}
	if h.key != nil {
		_ = h.key.Close()
	}
	if h.tpm != nil {
		// Closing the channel also ends a command stuck waiting for the TPM.
		_ = h.tpm.Close()
	}
}

// load opens the TPM and loads the key, within tpmTimeout.
func (s *tpmSigner) load() (*tpmHandle, error) {
	want := s.pub
	return tpmCall(func() (*tpmHandle, error) {
		t, err := openTPM(s.open)
		if err != nil {
			return nil, fmt.Errorf("open the TPM: %w", err)
		}
		h := &tpmHandle{tpm: t}
		if h.key, err = t.LoadKey(s.blob); err != nil {
			h.close()
			return nil, fmt.Errorf("load the key into the TPM (is this the machine it was made on?): %w", err)
		}
		pub, ok := h.key.Public().(*ecdsa.PublicKey)
		if !ok || (want != nil && !want.Equal(pub)) {
			h.close()
			return nil, errors.New("the TPM loaded a key other than the device key")
		}
		priv, err := h.key.Private(pub)
		if err != nil {
			h.close()
			return nil, err
		}
		h.signer, h.pub = priv.(crypto.Signer), pub
		return h, nil
	}, (*tpmHandle).close)
}

// set takes h as the open TPM. The public key is set once (load checks a
// reloaded key is the same), so Public needs no lock.
func (s *tpmSigner) set(h *tpmHandle) {
	s.tpm, s.key, s.signer = h.tpm, h.key, h.signer
	if s.pub == nil {
		s.pub = h.pub
	}
}

// Public is the device key's public key.
func (s *tpmSigner) Public() crypto.PublicKey { return s.pub }

// Sign signs digest in the TPM. A TPM that fails or does not answer
// within tpmTimeout gives an error (logged) and is reopened on the next
// call.
func (s *tpmSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tpm == nil {
		h, err := s.load()
		if err != nil {
			s.log.Error("agent: the TPM holding the device key cannot be used", "err", err)
			return nil, fmt.Errorf("agent: TPM: %w", err)
		}
		s.set(h)
	}
	signer := s.signer
	sig, err := tpmCall(func() ([]byte, error) { return signer.Sign(r, digest, opts) }, nil)
	if err != nil {
		s.log.Error("agent: the TPM could not sign with the device key; it is reopened for the next attempt", "err", err)
		s.closeLocked()
		return nil, fmt.Errorf("agent: TPM signature: %w", err)
	}
	return sig, nil
}

// Close releases the key and the TPM.
func (s *tpmSigner) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
}

func (s *tpmSigner) closeLocked() {
	(&tpmHandle{tpm: s.tpm, key: s.key}).close()
	s.tpm, s.key, s.signer = nil, nil, nil
}

// tpmCall runs f, giving up after tpmTimeout; what f returns after that is
// given to abandon (when not nil) so nothing stays open.
func tpmCall[T any](f func() (T, error), abandon func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	t := time.NewTimer(tpmTimeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		go func() {
			if r := <-done; r.err == nil && abandon != nil {
				abandon(r.v)
			}
		}()
		var zero T
		return zero, fmt.Errorf("the TPM did not answer within %s", tpmTimeout)
	}
}

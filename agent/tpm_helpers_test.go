package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
	"github.com/portier/portier/tpmtest"
)

// attestServer stands, inside the unit tests, for the server side of TPM
// key attestation (the real endpoints are the enrollment package's): it
// runs go-attestation's verifier steps (ActivationParameters.Generate,
// CertificationParameters.Verify) and issues certificates with a real CA
// over real mutual TLS.
type attestServer struct {
	url string
	ca  *ca.CA
	// noAttest answers 404 to the challenge, as a server older than
	// protocol 1.2 does.
	noAttest bool
	// swapKey issues certificates for a key of the server's own instead
	// of the CSR's, as a server in the middle would.
	swapKey bool

	mu         sync.Mutex
	challenges map[string]pendingChallenge
	// clientKeys are the public keys of the client certificates the
	// renew and browser-certificates calls were made with.
	clientKeys   []*ecdsa.PublicKey
	renewals     int
	browserCerts int
	// deviceChallenges counts the challenges asked for over mutual TLS.
	deviceChallenges int
}

type pendingChallenge struct {
	secret   []byte
	akPublic []byte
	// device is the device the challenge was asked for over mutual TLS
	// ("" when asked with an enrollment code).
	device string
}

func newAttestServer(t *testing.T) *attestServer {
	t.Helper()
	s := &attestServer{challenges: map[string]pendingChallenge{}}
	var err error
	s.ca, err = ca.New(context.Background(), ca.Options{Store: storetest.OpenBolt(t), Keys: &ca.FileKeyStore{Dir: filepath.Join(t.TempDir(), "ca")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ca.Close() })
	cert, err := s.ca.IssueServerTLS(context.Background(), []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ca/roots.pem", s.ca.RootsHandler())
	mux.HandleFunc("POST /api/v1/agent/attest/challenge", s.challenge)
	mux.HandleFunc("POST /api/v1/agent/enroll", s.enroll)
	mux.HandleFunc("POST /api/v1/agent/renew", s.renew)
	mux.HandleFunc("POST /api/v1/agent/browser-certificates", s.browserCertificate)
	mux.HandleFunc("GET /api/v1/agent/profile", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.device(r); err != nil {
			fail(w, http.StatusUnauthorized, err.Error())
			return
		}
		answer(w, agentwire.Profile{})
	})
	mux.HandleFunc("POST /api/v1/agent/unenroll", func(w http.ResponseWriter, r *http.Request) {
		id, err := s.device(r)
		if err != nil {
			fail(w, http.StatusUnauthorized, err.Error())
			return
		}
		answer(w, agentwire.Unenrolled{DeviceID: id, State: "retired"})
	})
	mux.HandleFunc("GET /api/v1/agent/origins", func(w http.ResponseWriter, r *http.Request) {
		answer(w, agentwire.Origins{Origins: []string{s.url}})
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(agentwire.VersionHeader, agentwire.Version)
		mux.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	var b agentwire.ErrorBody
	b.Error.Code, b.Error.Message = "invalid", msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}

func (s *attestServer) challenge(w http.ResponseWriter, r *http.Request) {
	if s.noAttest {
		http.NotFound(w, r)
		return
	}
	var req agentwire.AttestChallengeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "malformed challenge request")
		return
	}
	// With no enrollment code, the device's client certificate
	// authenticates, and the challenge is that device's.
	device := ""
	if req.Code == "" {
		var err error
		if device, err = s.device(r); err != nil {
			fail(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	var ek any
	if req.EK.Certificate != nil {
		c, err := x509.ParseCertificate(req.EK.Certificate)
		if err != nil {
			fail(w, http.StatusBadRequest, "ek.certificate")
			return
		}
		ek = c.PublicKey
	} else {
		k, err := x509.ParsePKIXPublicKey(req.EK.Public)
		if err != nil {
			fail(w, http.StatusBadRequest, "ek.public")
			return
		}
		ek = k
	}
	ap := attest.ActivationParameters{EK: ek, AK: attest.AttestationParameters{Public: req.AK.Public, CreateData: req.AK.CreateData,
		CreateAttestation: req.AK.CreateAttestation, CreateSignature: req.AK.CreateSignature}}
	secret, ec, err := ap.Generate()
	if err != nil {
		fail(w, http.StatusBadRequest, "ak: "+err.Error())
		return
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	s.mu.Lock()
	s.challenges[hex.EncodeToString(id)] = pendingChallenge{secret: secret, akPublic: req.AK.Public, device: device}
	s.deviceChallenges += min(len(device), 1)
	s.mu.Unlock()
	answer(w, agentwire.AttestChallenge{ID: hex.EncodeToString(id), Credential: ec.Credential, Secret: ec.Secret, ExpiresAt: time.Now().Add(5 * time.Minute)})
}

// verifyAttestation checks att proves that pub is a key in the TPM of the
// challenge; each challenge answers once.
func (s *attestServer) verifyAttestation(att *agentwire.KeyAttestation, pub any, device string) error {
	s.mu.Lock()
	ch, ok := s.challenges[att.ChallengeID]
	delete(s.challenges, att.ChallengeID)
	s.mu.Unlock()
	if !ok {
		return errors.New("unknown or used challenge")
	}
	if ch.device != device {
		return errors.New("the challenge was not asked for by this device")
	}
	if subtle.ConstantTimeCompare(ch.secret, att.Activated) != 1 {
		return errors.New("wrong activated secret")
	}
	ak, err := attest.ParseAKPublic(ch.akPublic)
	if err != nil {
		return err
	}
	cp := attest.CertificationParameters{Public: att.Key.Public, CreateData: att.Key.CreateData,
		CreateAttestation: att.Key.CreateAttestation, CreateSignature: att.Key.CreateSignature}
	if err := cp.Verify(attest.VerifyOpts{Public: ak.Public, Hash: ak.Hash}); err != nil {
		return err
	}
	tp, err := tpm2.DecodePublic(att.Key.Public)
	if err != nil {
		return err
	}
	certified, err := tp.Key()
	if err != nil {
		return err
	}
	if k, ok := certified.(*ecdsa.PublicKey); !ok || !k.Equal(pub) {
		return errors.New("the certified key is not the CSR's key")
	}
	return nil
}

func parseCSR(s string) (*x509.CertificateRequest, error) {
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return nil, errors.New("csr is not PEM")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return csr, csr.CheckSignature()
}

// swapped returns csr, or with swapKey a CSR for another key.
func (s *attestServer) swapped(csr *x509.CertificateRequest) *x509.CertificateRequest {
	if !s.swapKey {
		return csr
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	other, _ := x509.ParseCertificateRequest(der)
	return other
}

func (s *attestServer) enroll(w http.ResponseWriter, r *http.Request) {
	var req agentwire.EnrollRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "malformed")
		return
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		fail(w, http.StatusBadRequest, "csr: "+err.Error())
		return
	}
	key := ca.KeyInfo{Protection: req.Device.KeyProtection, Source: store.KeySourceAgent}
	if req.Attestation != nil {
		if err := s.verifyAttestation(req.Attestation, csr.PublicKey, ""); err != nil {
			fail(w, http.StatusBadRequest, "attestation: "+err.Error())
			return
		}
		key = ca.KeyInfo{Protection: store.KeyHardware, Source: store.KeySourceTPM}
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	chain, err := s.ca.IssueDevice(r.Context(), s.swapped(csr), "dev-"+hex.EncodeToString(id), key)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	answer(w, certAnswer(chain))
}

func certAnswer(chain []*x509.Certificate) agentwire.Certificate {
	var out []byte
	for _, c := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	ki := ca.KeyInfoFromCert(chain[0])
	id, _ := ca.DeviceIDFromCert(chain[0])
	life := chain[0].NotAfter.Sub(chain[0].NotBefore)
	return agentwire.Certificate{DeviceID: id, Certificate: string(out), NotAfter: chain[0].NotAfter,
		RenewAfter: chain[0].NotBefore.Add(life * 2 / 3), Ownership: "corporate", State: "active",
		KeyProtection: ki.Protection, KeyProtectionSource: ki.Source}
}

// device authenticates the call by its client certificate.
func (s *attestServer) device(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", errors.New("no client certificate")
	}
	id, _, err := s.ca.VerifyClient(r.TLS.PeerCertificates, time.Now())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.clientKeys = append(s.clientKeys, r.TLS.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey))
	s.mu.Unlock()
	return id, nil
}

func (s *attestServer) renew(w http.ResponseWriter, r *http.Request) {
	if _, err := s.device(r); err != nil {
		fail(w, http.StatusUnauthorized, err.Error())
		return
	}
	chain, err := s.ca.Renew(r.Context(), r.TLS.PeerCertificates[0], nil, ca.KeyInfo{})
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.renewals++
	s.mu.Unlock()
	answer(w, certAnswer(chain))
}

func (s *attestServer) browserCertificate(w http.ResponseWriter, r *http.Request) {
	id, err := s.device(r)
	if err != nil {
		fail(w, http.StatusUnauthorized, err.Error())
		return
	}
	var req agentwire.BrowserCertificateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "malformed")
		return
	}
	csr, err := parseCSR(req.CSR)
	if err != nil {
		fail(w, http.StatusBadRequest, "csr: "+err.Error())
		return
	}
	// As the real server: hardware only with an attestation of this
	// device's challenge, software whatever was claimed otherwise.
	key := ca.KeyInfo{Protection: store.KeySoftware, Source: store.KeySourceAgent, Purpose: ca.PurposeBrowser, Person: req.Person}
	if req.Attestation != nil {
		if err := s.verifyAttestation(req.Attestation, csr.PublicKey, id); err != nil {
			fail(w, http.StatusBadRequest, "attestation: "+err.Error())
			return
		}
		key.Protection, key.Source = store.KeyHardware, store.KeySourceTPM
	}
	chain, err := s.ca.IssueDevice(r.Context(), s.swapped(csr), id, key)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.browserCerts++
	s.mu.Unlock()
	answer(w, certAnswer(chain))
}

// swtpmOpener opens the software TPM tpm, as OpenSystemTPM opens a chip.
func swtpmOpener(tpm *tpmtest.TPM) TPMOpener {
	return func() (attest.CommandChannelTPM20, error) { return tpm.Open() }
}

// noTPM is a machine without a TPM.
func noTPM() (attest.CommandChannelTPM20, error) {
	return nil, errors.New("no TPM 2.0 on this machine (/dev/tpmrm0 does not exist)")
}

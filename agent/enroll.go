package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/posture/collect"
)

// maxRootsBytes bounds the roots.pem the agent fetches.
const maxRootsBytes = 1 << 20

// EnrollOptions configure Enroll.
type EnrollOptions struct {
	Server string // https://portier.example.com
	Code   string
	// Fingerprint is the SHA-256 of the Portier root certificate (hex,
	// colons and a "sha256:" prefix allowed). Empty means trust on first
	// use, with a warning.
	Fingerprint string
	// WorkProfile enrolls a personal (BYOD) device: only a work profile,
	// kept in its own subdirectory of StateDir.
	WorkProfile bool
	StateDir    string
	// Force replaces an existing enrollment in StateDir.
	Force   bool
	Version string
	// Info reads the device's facts (default: the real machine).
	Info func(ctx context.Context) agentwire.DeviceInfo
	// Hardware names the machine's key hardware (default:
	// DetectKeyHardware on the real machine).
	Hardware func(ctx context.Context) string
	// KeyMode is where the device key is made: KeyModeAuto (default: the
	// TPM when one opens and works, else software), KeyModeTPM (the TPM,
	// or no enrollment) or KeyModeSoftware.
	KeyMode string
	// TPM opens the TPM (default OpenSystemTPM).
	TPM TPMOpener
	// Log receives TPM errors (default: discard).
	Log *slog.Logger
	// Out receives warnings and progress for the person enrolling.
	Out   io.Writer
	Clock func() time.Time // default time.Now
}

// Enrolled describes a finished enrollment.
type Enrolled struct {
	DeviceID    string
	Dir         string // where the key, certificate and state are
	Ownership   string
	WorkProfile bool
	NotAfter    time.Time
	Fingerprint string
	// KeyProtection is where the device key is (agentwire.KeyHardware: in
	// the TPM) and KeyProtectionSource what the certificate says of it;
	// KeyNote why the key is not in the TPM (auto mode) or why the server
	// did not verify the TPM, "" when there is nothing to say.
	KeyProtection       string
	KeyProtectionSource string
	KeyNote             string
}

// Enroll enrolls this device: it fetches and pins the Portier root,
// generates an ECDSA P-256 key (in the TPM, proved to the server by TPM
// key attestation, per KeyMode), sends a CSR with the code, checks the
// certificate it gets, and writes device.key (0600: a PKCS #8 software key,
// or the TPM's wrapped blob as a TSS2 PRIVATE KEY), device.crt and ca.crt
// (0644) and the state into the state directory (its work-profile
// subdirectory in work-profile mode).
func Enroll(ctx context.Context, o EnrollOptions) (*Enrolled, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	switch o.KeyMode {
	case "":
		o.KeyMode = KeyModeAuto
	case KeyModeAuto, KeyModeTPM, KeyModeSoftware:
	default:
		return nil, fmt.Errorf("agent: --key must be auto, tpm or software (got %q)", o.KeyMode)
	}
	server, err := checkServerURL(o.Server)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(o.Code) == "" {
		return nil, errors.New("agent: an enrollment code is required (--code)")
	}
	dir := o.StateDir
	if o.WorkProfile {
		dir = filepath.Join(o.StateDir, WorkProfileDir)
	}
	if st, err := loadState(profileDir(o.StateDir)); err == nil && !o.Force {
		return nil, fmt.Errorf("agent: this device is already enrolled with %s as %s; use --force to enroll again", st.Server, st.DeviceID)
	}
	root, fp, err := fetchRoot(ctx, server, o.Fingerprint, o.Out)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	c := newClient(server, pool, nil)
	defer c.close()
	k, err := newDeviceKey(ctx, o, c)
	if err != nil {
		return nil, err
	}
	defer k.close()
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k.signer)
	if err != nil {
		return nil, fmt.Errorf("agent: sign the certificate request: %w", err)
	}
	info := agentwire.DeviceInfo{}
	if o.Info == nil {
		o.Info = func(ctx context.Context) agentwire.DeviceInfo {
			return ReadDeviceInfo(ctx, DeviceInfoEnv{Platform: NativePlatform(),
				Runner: collect.ExecRunner{Timeout: 10 * time.Second}, FS: os.DirFS("/"), Hostname: os.Hostname, Getenv: os.Getenv})
		}
	}
	info = o.Info(ctx)
	info.WorkProfile, info.AgentVersion = o.WorkProfile, o.Version
	switch {
	case k.tpm != nil:
		info.KeyProtection = agentwire.KeyHardware
	case info.KeyProtection == "":
		// A Go key kept in a file: software, said so plainly
		// (docs/agent.md, "Where the device key lives"). Only a test's
		// Info states anything else, to stand for another agent.
		info.KeyProtection = agentwire.KeySoftware
	}
	req := agentwire.EnrollRequest{Code: o.Code, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})), Device: info}
	if k.tpm != nil {
		req.Attestation = k.tpm.att
	}
	ctx2, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var ans agentwire.Certificate
	if err := c.call(ctx2, http.MethodPost, "/api/v1/agent/enroll", req, &ans); err != nil {
		return nil, fmt.Errorf("agent: enrollment refused: %w", err)
	}
	chainPEM, leaf, err := checkIssued(ans.Certificate, k.public(), pool)
	if err != nil {
		return nil, err
	}
	note := k.note(ans.KeyProtectionSource)
	if o.Force {
		for _, f := range profileFiles {
			_ = os.Remove(filepath.Join(dir, f))
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: create %s: %w", dir, err)
	}
	if o.Hardware == nil {
		o.Hardware = func(ctx context.Context) string {
			return DetectKeyHardware(ctx, KeyHardwareEnv{Platform: NativePlatform(), Runner: collect.ExecRunner{Timeout: 10 * time.Second}, FS: os.DirFS("/")})
		}
	}
	st := &State{Server: server, DeviceID: ans.DeviceID, Ownership: ans.Ownership, WorkProfile: ans.WorkProfile,
		CAFingerprint: fp, EnrolledAt: o.Clock().UTC(), NotAfter: leaf.NotAfter, RenewAfter: ans.RenewAfter,
		KeyProtection: info.KeyProtection, KeyProtectionSource: ans.KeyProtectionSource, KeyNote: note, KeyHardware: o.Hardware(ctx)}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{KeyFile, k.file, 0o600},
		{CertFile, chainPEM, 0o644},
		{CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("agent: write %s: %w", f.name, err)
		}
	}
	if err := st.save(dir); err != nil {
		return nil, err
	}
	return &Enrolled{DeviceID: ans.DeviceID, Dir: dir, Ownership: ans.Ownership, WorkProfile: ans.WorkProfile,
		NotAfter: leaf.NotAfter, Fingerprint: fp, KeyProtection: info.KeyProtection, KeyProtectionSource: ans.KeyProtectionSource,
		KeyNote: note}, nil
}

// checkServerURL accepts an https URL with no path beyond "/".
func checkServerURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		return "", fmt.Errorf("agent: --server must be the https URL of Portier, such as https://portier.example.com (got %q)", s)
	}
	return u.String(), nil
}

// NormalizeFingerprint turns "SHA256 AB:CD:..." and similar spellings into
// lower-case hex.
func NormalizeFingerprint(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"sha256:", "sha256 ", "sha-256:"} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.NewReplacer(":", "", " ", "", "-", "").Replace(s)
}

// fetchRoot downloads /ca/roots.pem and decides whether to trust it: it
// must match want when given; otherwise it is trusted on first use, and
// the person enrolling is told to check its fingerprint.
func fetchRoot(ctx context.Context, server, want string, out io.Writer) (*x509.Certificate, string, error) {
	// Nothing is trusted yet: the fingerprint below is the trust decision.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // #nosec G402 -- pinned by fingerprint
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/ca/roots.pem", nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("agent: fetch the Portier root from %s: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("agent: fetch the Portier root from %s: status %d", server, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRootsBytes))
	if err != nil {
		return nil, "", err
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, "", fmt.Errorf("agent: %s/ca/roots.pem is not a PEM certificate", server)
	}
	root, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !root.IsCA {
		return nil, "", fmt.Errorf("agent: %s/ca/roots.pem is not a CA certificate", server)
	}
	sum := sha256.Sum256(root.Raw)
	fp := hex.EncodeToString(sum[:])
	if want != "" {
		if NormalizeFingerprint(want) != fp {
			return nil, "", fmt.Errorf("agent: the Portier root at %s has fingerprint %s, not the expected %s: refusing to enroll (someone may be intercepting the connection)", server, fp, NormalizeFingerprint(want))
		}
		return root, fp, nil
	}
	fmt.Fprintf(out, "WARNING: no --ca-fingerprint given: trusting the Portier root fetched from %s on first use.\n"+
		"         Its SHA-256 fingerprint is %s.\n"+
		"         Check it with your IT team; from now on the agent trusts only this root.\n", server, fp)
	return root, fp, nil
}

// checkIssued parses the issued chain and checks the leaf is for our key,
// for client authentication, and chains to the pinned root.
func checkIssued(chainPEM string, pub *ecdsa.PublicKey, roots *x509.CertPool) ([]byte, *x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(chainPEM)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		crt, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("agent: the server sent a malformed certificate: %w", err)
		}
		certs = append(certs, crt)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("agent: the server sent no certificate")
	}
	leaf := certs[0]
	if lp, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !lp.Equal(pub) {
		return nil, nil, errors.New("agent: the certificate the server sent is not for this device's key")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, nil, fmt.Errorf("agent: the certificate the server sent does not chain to the pinned Portier root: %w", err)
	}
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out, leaf, nil
}

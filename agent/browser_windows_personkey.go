package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
)

// Each person's own browser key (the Windows service's per-person path).
// The service holds the device's mutual-TLS identity but cannot reach a
// person's Cert:\CurrentUser\My; the person's logon task can, but holds
// no identity. So the key is made by the person's task, in the person's
// key storage, and only its certificate request travels:
//
//  1. the service writes request.json (the device id) into the person's
//     directory and starts the task;
//  2. the task makes a non-exportable ECDSA P-256 key with `certreq -new`:
//     in the Microsoft Platform Crypto Provider (the TPM) when that works,
//     else in the Microsoft Software Key Storage Provider, and leaves the
//     CSR (browser.csr) and which provider made the key (browser-key.json);
//  3. the service sends that CSR to POST /api/v1/agent/browser-certificates
//     with the directory's SID as the person, writes the issued chain into
//     browser-issued.json and starts the task again;
//  4. the task binds the certificate to its key (`certreq -accept -user`),
//     puts the intermediate into Cert:\CurrentUser\CA, checks the key is
//     there and not exportable, deletes the certificate it replaces, and
//     records what it did in imported.json.
//
// No key and no PFX ever leaves the person's key storage on this path.

// Files of the per-person path in a person's directory.
const (
	userRequestFile = "request.json"        // service -> task: make a key for this device
	userINFFile     = "browser.inf"         // task: certreq's policy file
	userCSRFile     = "browser.csr"         // task -> service: the key's request
	userKeyFile     = "browser-key.json"    // task -> service: which provider made it
	userIssuedFile  = "browser-issued.json" // service -> task: the certificate chain
	userServiceFile = "service.json"        // the service's last problem with this person's request
	userLeafFile    = "browser.cer"         // task: the leaf, for certreq -accept
	userCAFilePre   = "browser-ca-"         // task: browser-ca-N.cer, for certutil -addstore
)

// The CNG key storage providers the task uses.
const (
	ProviderPlatform = "Microsoft Platform Crypto Provider"
	ProviderSoftware = "Microsoft Software Key Storage Provider"
)

// removeInstalled is the removal order's entry asking the task to remove
// every certificate (and key) it installed itself.
const removeInstalled = "installed"

// maxPersonFile bounds what the service reads of a file the person can
// write.
const maxPersonFile = 16 << 10

// PersonKeyRequest is request.json: the service asks the person's task
// for a key of the person's own for this device.
type PersonKeyRequest struct {
	DeviceID string `json:"device_id"`
}

// PersonKeyInfo is browser-key.json: where the task made the key of the
// CSR beside it. It is the person's task's statement: the service trusts
// "hardware" only on a machine where it found a ready TPM itself.
type PersonKeyInfo struct {
	Provider string    `json:"provider"`
	Created  time.Time `json:"created"`
	// PlatformError is why the Platform Crypto Provider (TPM) could not
	// make the key, when the software provider made it.
	PlatformError string `json:"platform_error,omitempty"`
}

// IssuedBrowserCert is browser-issued.json: the certificate the server
// issued for the person's CSR.
type IssuedBrowserCert struct {
	// Certificate is PEM: the leaf, then the intermediates.
	Certificate         string    `json:"certificate"`
	NotAfter            time.Time `json:"not_after"`
	RenewAfter          time.Time `json:"renew_after"`
	KeyProtection       string    `json:"key_protection"`
	KeyProtectionSource string    `json:"key_protection_source,omitempty"`
}

// InstalledCert is a certificate the person's task put into the store.
type InstalledCert struct {
	Thumbprint    string   `json:"thumbprint"`
	CAThumbprints []string `json:"ca_thumbprints,omitempty"`
}

// deviceIDPattern is what a device id may hold (the CA's rule): it goes
// into certreq's policy file, so nothing else is accepted.
var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// personINF is certreq's policy file for a non-exportable ECDSA P-256 key
// in provider, in the person's own (not the machine's) key set, and a
// PKCS#10 request whose subject is the device id. SuppressDefaults leaves
// out Windows' own attributes (client and OS information).
func personINF(deviceID, provider string) string {
	return "[Version]\r\n" +
		"Signature=\"$Windows NT$\"\r\n" +
		"\r\n" +
		"[NewRequest]\r\n" +
		"Subject = \"CN=" + deviceID + "\"\r\n" +
		"FriendlyName = \"Portier device " + deviceID + "\"\r\n" +
		"KeyAlgorithm = ECDSA_P256\r\n" +
		"KeyLength = 256\r\n" +
		"ProviderName = \"" + provider + "\"\r\n" +
		"Exportable = FALSE\r\n" +
		"MachineKeySet = FALSE\r\n" +
		"RequestType = PKCS10\r\n" +
		"HashAlgorithm = sha256\r\n" +
		"KeyUsage = 0x80\r\n" +
		"KeyUsageProperty = 2\r\n" +
		"SuppressDefaults = TRUE\r\n" +
		"Silent = TRUE\r\n"
}

// certreq and certutil of the person's task.
func certreq(args ...string) Command  { return Command{Path: "certreq.exe", Args: args} }
func certutil(args ...string) Command { return Command{Path: "certutil.exe", Args: args} }

// readSmall reads a file of at most maxPersonFile bytes that is a plain
// file (not a link to somewhere else).
func readSmall(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a plain file", filepath.Base(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, filepath.Base(path), maxPersonFile)
}

// readJSON reads a small JSON file into v.
func readJSON(path string, v any) error {
	b, err := readSmall(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// parsePersonCSR reads a CSR the person's task made (PEM, certreq writes
// "NEW CERTIFICATE REQUEST") and checks what the server will: an ECDSA
// P-256 key, a valid signature, no subject but the device id, no names.
func parsePersonCSR(b []byte, deviceID string) (*x509.CertificateRequest, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || (blk.Type != "NEW CERTIFICATE REQUEST" && blk.Type != "CERTIFICATE REQUEST") {
		return nil, errors.New("the certificate request is not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the certificate request cannot be read: %w", err)
	}
	if k, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("the certificate request's key is not ECDSA P-256")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the certificate request's signature does not verify: %w", err)
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != deviceID {
		return nil, fmt.Errorf("the certificate request names %q, not this device", cn)
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
		return nil, errors.New("the certificate request names more than the device")
	}
	return csr, nil
}

// personKey is the person's task's part: make a key and its CSR when the
// service asks for one and none is current, and install the certificate
// the service left. done carries what was installed before (imported.json)
// and is updated.
func personKey(ctx context.Context, dir string, run CommandRunner, now time.Time, done *UserImport) {
	var req PersonKeyRequest
	if err := readJSON(filepath.Join(dir, userRequestFile), &req); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			done.Errors = append(done.Errors, "the service's request is damaged: "+err.Error())
		}
		return
	}
	if !deviceIDPattern.MatchString(req.DeviceID) {
		done.Errors = append(done.Errors, fmt.Sprintf("the service's request names no valid device (%q)", req.DeviceID))
		return
	}
	if _, err := os.Lstat(filepath.Join(dir, userIssuedFile)); err == nil {
		if err := acceptPersonCert(ctx, dir, run, req.DeviceID, done); err != nil {
			done.Errors = append(done.Errors, err.Error())
		}
		return
	}
	if _, err := os.Lstat(filepath.Join(dir, userCSRFile)); err == nil {
		done.Pending = true // the service has not answered yet
		return
	}
	if done.Imported != "" && done.DeviceID == req.DeviceID && now.Before(done.RenewAfter) {
		return // current
	}
	if err := makePersonKey(ctx, dir, run, now, req.DeviceID); err != nil {
		done.Errors = append(done.Errors, err.Error())
		return
	}
	done.Pending = true
}

// makePersonKey runs certreq -new with the Platform Crypto Provider, then
// with the software provider if the TPM cannot make the key.
func makePersonKey(ctx context.Context, dir string, run CommandRunner, now time.Time, deviceID string) error {
	// certreq writes the request under another name: the service, which
	// looks for browser.csr, sees it whole and with its key's provider.
	inf, tmp := filepath.Join(dir, userINFFile), filepath.Join(dir, userCSRFile+".new")
	defer os.Remove(inf)
	defer os.Remove(tmp)
	info := PersonKeyInfo{Created: now.UTC()}
	for _, provider := range []string{ProviderPlatform, ProviderSoftware} {
		if err := writeFileAtomic(inf, []byte(personINF(deviceID, provider)), 0o600); err != nil {
			return err
		}
		_ = os.Remove(tmp) // certreq does not overwrite quietly
		out, err := run(ctx, certreq("-new", "-user", "-q", inf, tmp))
		if err == nil {
			var b []byte
			if b, err = readSmall(tmp); err == nil {
				_, err = parsePersonCSR(b, deviceID)
			}
		}
		if err != nil {
			msg := fmt.Sprintf("certreq -new with %s: %v: %s", provider, err, trimOut(out))
			if provider == ProviderPlatform {
				info.PlatformError = msg
				continue
			}
			return errors.New(msg)
		}
		info.Provider = provider
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := writeFileAtomic(filepath.Join(dir, userKeyFile), append(b, '\n'), 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(dir, userCSRFile))
	}
	return errors.New("unreachable")
}

// acceptPersonCert installs the issued certificate on the key of the
// pending request, checks it, replaces the previous one and cleans up.
func acceptPersonCert(ctx context.Context, dir string, run CommandRunner, deviceID string, done *UserImport) error {
	var iss IssuedBrowserCert
	var info PersonKeyInfo
	csrB, errC := readSmall(filepath.Join(dir, userCSRFile))
	errI := readJSON(filepath.Join(dir, userIssuedFile), &iss)
	_ = readJSON(filepath.Join(dir, userKeyFile), &info)
	certs := parsePEMCerts(iss.Certificate)
	var csr *x509.CertificateRequest
	if errC == nil {
		csr, errC = parsePersonCSR(csrB, deviceID)
	}
	switch {
	case errI != nil:
		clearPersonFiles(dir, userIssuedFile)
		return fmt.Errorf("the issued certificate cannot be read: %w", errI)
	case errC != nil:
		clearPersonFiles(dir, userIssuedFile, userCSRFile, userKeyFile)
		return fmt.Errorf("the certificate request of the issued certificate is gone or damaged: %w", errC)
	case len(certs) == 0:
		clearPersonFiles(dir, userIssuedFile)
		return errors.New("the issued certificate file holds no certificate")
	}
	leaf := certs[0]
	if lp, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !lp.Equal(csr.PublicKey) {
		clearPersonFiles(dir, userIssuedFile)
		return errors.New("the issued certificate is not for the key this task made")
	}
	leafPath := filepath.Join(dir, userLeafFile)
	if err := writeFileAtomic(leafPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600); err != nil {
		return err
	}
	defer os.Remove(leafPath)
	if out, err := run(ctx, certreq("-accept", "-user", "-q", leafPath)); err != nil {
		// The pending key is gone or unusable: the next run makes a new one.
		clearPersonFiles(dir, userIssuedFile, userCSRFile, userKeyFile)
		return fmt.Errorf("certreq -accept: %v: %s", err, trimOut(out))
	}
	cur := InstalledCert{Thumbprint: Thumbprint(leaf)}
	for i, c := range certs[1:] {
		p := filepath.Join(dir, userCAFilePre+strconv.Itoa(i+1)+".cer")
		if err := writeFileAtomic(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			return err
		}
		out, err := run(ctx, certutil("-user", "-addstore", "CA", p))
		_ = os.Remove(p)
		if err != nil {
			return fmt.Errorf("certutil -addstore CA: %v: %s", err, trimOut(out))
		}
		cur.CAThumbprints = append(cur.CAThumbprints, Thumbprint(c))
	}
	store := &WindowsCertStore{Run: run}
	got, err := checkPersonCert(ctx, store, cur.Thumbprint)
	if err != nil {
		// Not bound to a private key, or exportable: not ours to keep.
		_ = store.Remove(ctx, Placement{Store: StoreWindowsCert, AsAgent: true, Path: windowsCertPath, Thumbprint: cur.Thumbprint})
		clearPersonFiles(dir, userIssuedFile, userCSRFile, userKeyFile)
		return err
	}
	// The new certificate is in: the ones it replaces go, with their keys
	// (an intermediate the new one uses stays).
	var keep []InstalledCert
	for _, old := range done.Installed {
		if old.Thumbprint == cur.Thumbprint {
			continue
		}
		var cas []string
		for _, c := range old.CAThumbprints {
			if !slices.Contains(cur.CAThumbprints, c) {
				cas = append(cas, c)
			}
		}
		p := Placement{Store: StoreWindowsCert, AsAgent: true, Path: windowsCertPath, Thumbprint: old.Thumbprint, CAThumbprints: cas}
		if err := store.Remove(ctx, p); err != nil {
			done.Errors = append(done.Errors, err.Error())
			keep = append(keep, old)
			continue
		}
		done.Removed = append(done.Removed, old.Thumbprint)
	}
	done.Installed = append(keep, cur)
	done.Imported, done.DeviceID, done.Store, done.Provider = cur.Thumbprint, deviceID, windowsCertPath, got
	done.KeyProtection = agentwire.KeySoftware
	if got == ProviderPlatform {
		done.KeyProtection = agentwire.KeyHardware
	}
	done.KeyProtectionSource, done.NotAfter, done.RenewAfter, done.Pending = iss.KeyProtectionSource, leaf.NotAfter, iss.RenewAfter, false
	done.PlatformError = info.PlatformError
	if done.RenewAfter.IsZero() {
		done.RenewAfter = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3)
	}
	clearPersonFiles(dir, userIssuedFile, userCSRFile, userKeyFile)
	return nil
}

// personCertCheck prints, for the certificate in the person's store, whether
// it has its private key, the key's provider and its export policy
// ("None": not exportable), separated by '|'.
func personCertCheck(thumb string) string {
	return "$ErrorActionPreference='Stop'; " +
		"$c = Get-Item -LiteralPath " + psQuote(windowsCertPath+`\`+thumb) + "; " +
		"$k = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($c); " +
		"'{0}|{1}|{2}' -f $c.HasPrivateKey, $k.Key.Provider.Provider, $k.Key.ExportPolicy"
}

// checkPersonCert checks the certificate landed in Cert:\CurrentUser\My
// with a private key that cannot be exported, and returns the key's
// provider.
func checkPersonCert(ctx context.Context, s *WindowsCertStore, thumb string) (string, error) {
	out, err := s.Run(ctx, s.ps(personCertCheck(thumb)))
	if err != nil {
		return "", fmt.Errorf("the certificate %s is not in %s after certreq -accept: %v: %s", thumb, windowsCertPath, err, trimOut(out))
	}
	f := strings.Split(lastLine(out), "|")
	switch {
	case len(f) != 3:
		return "", fmt.Errorf("unexpected answer checking the certificate %s: %s", thumb, trimOut(out))
	case f[0] != "True":
		return "", fmt.Errorf("the certificate %s is in %s without its private key", thumb, windowsCertPath)
	case f[2] != "None":
		return "", fmt.Errorf("the key of the certificate %s can be exported (%s): removed", thumb, f[2])
	case f[1] != ProviderPlatform && f[1] != ProviderSoftware:
		return "", fmt.Errorf("the key of the certificate %s is in an unexpected provider %q: removed", thumb, f[1])
	}
	return f[1], nil
}

// clearPersonFiles deletes files of the person's directory.
func clearPersonFiles(dir string, names ...string) {
	for _, n := range names {
		_ = os.Remove(filepath.Join(dir, n))
	}
}

// parsePEMCerts reads the certificates of a PEM chain, stopping at the
// first block that is not one.
func parsePEMCerts(s string) []*x509.Certificate {
	var out []*x509.Certificate
	for rest := []byte(s); ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil || blk.Type != "CERTIFICATE" {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return out
		}
		out = append(out, c)
	}
}

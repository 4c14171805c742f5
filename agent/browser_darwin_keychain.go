package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the Keychain names certificates by their SHA-1
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// StoreKeychain is the store name of the macOS login keychains.
const StoreKeychain = "keychain"

// DarwinBrowserApps are the browsers given access to the device key
// when they are installed (security import -T): Safari uses the
// keychain and the identity preferences; Chrome and Edge use the
// keychain's identities for client certificates on macOS.
var DarwinBrowserApps = []string{
	"/Applications/Safari.app",
	"/Applications/Google Chrome.app",
	"/Applications/Microsoft Edge.app",
}

// KeychainStore installs the device identity into each person's login
// keychain with macOS's security(1): the key (non-extractable, usable
// without a prompt only by security itself and the installed browsers of
// DarwinBrowserApps), the device certificate and the intermediate, and an
// identity preference per Portier origin so Safari presents the device
// certificate there. A root agent runs every command in the person's
// login session as that person (launchctl asuser UID sudo -u NAME), the
// only way to reach their unlocked login keychain.
type KeychainStore struct {
	// Run runs launchctl and security.
	Run CommandRunner
	// Security, Launchctl and Sudo are the tools (defaults: the system's).
	Security, Launchctl, Sudo string
	// Apps are the candidates for -T (default DarwinBrowserApps); Exists
	// says which are installed (default os.Stat).
	Apps   []string
	Exists func(path string) bool
	// TempDir holds the short-lived PKCS #12 file (default /tmp: a
	// daemon's own temporary directory may be closed to the person).
	TempDir string
	// Chown gives the PKCS #12 file to the person (default os.Chown).
	Chown func(path string, uid, gid int) error
}

var _ BrowserStore = (*KeychainStore)(nil)

// Name is "keychain".
func (s *KeychainStore) Name() string { return StoreKeychain }

// LoginKeychain is the path of a person's login keychain.
func LoginKeychain(home string) string {
	return filepath.Join(home, "Library", "Keychains", "login.keychain-db")
}

// Thumbprint is a certificate's SHA-1 in upper-case hex, as security and
// Windows name it.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // a name, not a security decision
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// command runs security as u: directly when the agent is u, else in u's
// login session through launchctl asuser and sudo.
func (s *KeychainStore) command(u LocalUser, args ...string) Command {
	security := orDefaultString(s.Security, "/usr/bin/security")
	if u.AsAgent {
		return Command{Path: security, Args: args, User: &u}
	}
	wrap := []string{"asuser", strconv.Itoa(u.UID), orDefaultString(s.Sudo, "/usr/bin/sudo"), "-u", u.Name, "-H", "--", security}
	return Command{Path: orDefaultString(s.Launchctl, "/bin/launchctl"), Args: append(wrap, args...)}
}

// validAccount reports whether name can be passed to sudo -u.
func validAccount(name string) bool {
	if name == "" || len(name) > 64 || name[0] == '-' || name[0] == '#' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// identityService is the identity-preference name of an origin: the URL
// with a trailing slash, as Safari looks it up.
func identityService(origin string) string { return origin + "/" }

// Install imports the identity into every person's login keychain and
// sets the identity preferences; it stops at the first failure,
// returning what it placed until then.
func (s *KeychainStore) Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error) {
	if len(id.Users) == 0 {
		return nil, errNoUsers
	}
	cn := id.Leaf.Subject.CommonName
	if cn == "" || strings.ContainsAny(cn, "\n\r") {
		return nil, errors.New("agent: the device certificate has no usable common name")
	}
	origins := Origins(id.Origins)
	if len(origins) == 0 {
		return nil, errors.New("agent: the server named no https origin to prefer the device certificate for")
	}
	password, p12, err := encodeLegacyP12(id)
	if err != nil {
		return nil, err
	}
	var out []Placement
	for _, u := range id.Users {
		if !u.AsAgent && !validAccount(u.Name) {
			return out, fmt.Errorf("agent: account name %q cannot be passed to sudo", u.Name)
		}
		p := Placement{Store: s.Name(), User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, AsAgent: u.AsAgent,
			Path: LoginKeychain(u.Home), Serial: id.Leaf.SerialNumber.String(), Nickname: cn, Thumbprint: Thumbprint(id.Leaf)}
		for _, c := range id.Intermediates {
			p.CAThumbprints = append(p.CAThumbprints, Thumbprint(c))
		}
		err := s.installFor(ctx, u, &p, p12, password, origins)
		out = append(out, p) // recorded even after a failure: a half-done import is removed too
		if err != nil {
			return out, fmt.Errorf("agent: install the device identity for %s in %s: %w", u.Name, p.Path, err)
		}
	}
	return out, nil
}

func (s *KeychainStore) installFor(ctx context.Context, u LocalUser, p *Placement, p12 []byte, password string, origins []string) error {
	tmp, err := (&NSSStore{TempDir: orDefaultString(s.TempDir, "/tmp"), Chown: s.Chown}).privateFiles(u, map[string][]byte{"identity.p12": p12})
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	args := []string{"import", filepath.Join(tmp, "identity.p12"), "-k", p.Path, "-f", "pkcs12", "-P", password, "-x",
		"-T", orDefaultString(s.Security, "/usr/bin/security")}
	for _, app := range s.installedApps() {
		args = append(args, "-T", app)
	}
	// An identity already there (a record lost) is fine: the check decides.
	if out, err := s.Run(ctx, s.command(u, args...)); err != nil && !strings.Contains(string(out), "already exists") {
		return fmt.Errorf("security import: %w: %s", err, trimOut(out))
	}
	if ok, err := s.holds(ctx, u, p); err != nil || !ok {
		return fmt.Errorf("the certificate is not in the keychain after the import (%v)", err)
	}
	for _, o := range origins {
		svc := identityService(o)
		if out, err := s.Run(ctx, s.command(u, "set-identity-preference", "-s", svc, "-Z", p.Thumbprint, p.Path)); err != nil {
			return fmt.Errorf("security set-identity-preference %s: %w: %s", svc, err, trimOut(out))
		}
		p.Entries = append(p.Entries, svc)
	}
	return nil
}

func (s *KeychainStore) installedApps() []string {
	apps := s.Apps
	if apps == nil {
		apps = DarwinBrowserApps
	}
	exists := s.Exists
	if exists == nil {
		exists = func(path string) bool { _, err := os.Stat(path); return err == nil }
	}
	var out []string
	for _, a := range apps {
		if exists(a) {
			out = append(out, a)
		}
	}
	return out
}

// holds reports whether the keychain of p holds the device certificate.
func (s *KeychainStore) holds(ctx context.Context, u LocalUser, p *Placement) (bool, error) {
	out, err := s.Run(ctx, s.command(u, "find-certificate", "-a", "-Z", "-c", p.Nickname, p.Path))
	if err != nil {
		// security exits 44 when nothing matches.
		if strings.Contains(string(out), "could not be found") {
			return false, nil
		}
		return false, fmt.Errorf("security find-certificate: %w: %s", err, trimOut(out))
	}
	for _, h := range ParseFindCertificateSHA1(out) {
		if h == p.Thumbprint {
			return true, nil
		}
	}
	return false, nil
}

// ParseFindCertificateSHA1 returns the SHA-1 hashes (upper-case hex) of
// `security find-certificate -Z` output, one per "SHA-1 hash: HEX" line.
func ParseFindCertificateSHA1(out []byte) []string {
	var hashes []string
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "SHA-1 hash:")
		if !ok {
			continue
		}
		h := strings.ToUpper(strings.TrimSpace(rest))
		if len(h) == 40 && strings.Trim(h, "0123456789ABCDEF") == "" {
			hashes = append(hashes, h)
		}
	}
	return hashes
}

// Remove clears the identity preferences, deletes the device identity
// (certificate and key) and the intermediates imported with it, and
// checks the certificate is gone. A keychain that no longer exists is
// fine.
func (s *KeychainStore) Remove(ctx context.Context, p Placement) error {
	if _, err := os.Stat(p.Path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if !validThumbprint(p.Thumbprint) {
		return fmt.Errorf("agent: the keychain placement %s has no certificate hash", p.Path)
	}
	u := LocalUser{Name: p.User, UID: p.UID, GID: p.GID, Home: p.Home, AsAgent: p.AsAgent}
	if !u.AsAgent && !validAccount(u.Name) {
		return fmt.Errorf("agent: account name %q cannot be passed to sudo", u.Name)
	}
	var errs []error
	for _, svc := range p.Entries {
		if out, err := s.Run(ctx, s.command(u, "set-identity-preference", "-n", "-s", svc, p.Path)); err != nil {
			errs = append(errs, fmt.Errorf("agent: clear the identity preference %s in %s: %w: %s", svc, p.Path, err, trimOut(out)))
		}
	}
	// Errors are judged by the check below (already deleted is fine).
	_, _ = s.Run(ctx, s.command(u, "delete-identity", "-Z", p.Thumbprint, p.Path))
	for _, ca := range p.CAThumbprints {
		if validThumbprint(ca) {
			_, _ = s.Run(ctx, s.command(u, "delete-certificate", "-Z", ca, p.Path))
		}
	}
	held, err := s.holds(ctx, u, &p)
	if err != nil {
		errs = append(errs, fmt.Errorf("agent: list %s after removing the device identity: %w", p.Path, err))
	} else if held {
		errs = append(errs, fmt.Errorf("agent: the device certificate %s is still in %s", p.Thumbprint, p.Path))
	}
	return errors.Join(errs...)
}

// validThumbprint reports whether t is a SHA-1 in upper-case hex (it is
// passed to tools and, on Windows, into a PowerShell script).
func validThumbprint(t string) bool {
	return len(t) == 40 && strings.Trim(t, "0123456789ABCDEF") == ""
}

// encodeLegacyP12 is encodeP12 with the algorithms macOS's security and
// Windows' PFX import read on every supported version (3DES, SHA-1 MAC):
// the file lives a few seconds in a directory only its person can read,
// under a random one-time password, so its cipher protects little.
func encodeLegacyP12(id *BrowserIdentity) (string, []byte, error) {
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return "", nil, err
	}
	password := hex.EncodeToString(pw[:])
	p12, err := pkcs12.LegacyDES.WithRand(rand.Reader).Encode(id.Key, id.Leaf, id.Intermediates, password)
	if err != nil {
		return "", nil, fmt.Errorf("agent: package the device identity: %w", err)
	}
	return password, p12, nil
}

package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Store names of the NSS stores.
const (
	StoreNSS     = "nss"     // ~/.pki/nssdb: Chrome, Chromium, Edge (Linux)
	StoreFirefox = "firefox" // each Firefox profile's own NSS database
)

// NSSStore installs the device identity into NSS databases with Debian's
// libnss3-tools (certutil, pk12util), running every command as the
// database's owner so each file stays the person's own: the shared
// database ~/.pki/nssdb that Chrome, Chromium and Edge read on Linux
// (created when missing), or, with Firefox set, the database of each
// existing Firefox profile.
type NSSStore struct {
	// Firefox selects the Firefox profiles instead of ~/.pki/nssdb.
	Firefox bool
	// Run runs certutil, pk12util and mkdir.
	Run CommandRunner
	// Certutil and Pk12util are the tools (default: found in PATH).
	Certutil, Pk12util string
	// TempDir holds the short-lived PKCS #12 file (default os.TempDir()).
	TempDir string
	// Chown gives the PKCS #12 file to the person who imports it
	// (default os.Chown).
	Chown func(path string, uid, gid int) error
	// TPM, when set (shared database only), gives each person a browser
	// key in the TPM instead of the software key where it can.
	TPM *TPMBrowserKeys
}

var _ BrowserStore = (*NSSStore)(nil)

// Name is "nss" or "firefox".
func (s *NSSStore) Name() string {
	if s.Firefox {
		return StoreFirefox
	}
	return StoreNSS
}

func (s *NSSStore) certutil() string { return orDefaultString(s.Certutil, "certutil") }
func (s *NSSStore) pk12util() string { return orDefaultString(s.Pk12util, "pk12util") }

func orDefaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// databases lists the NSS databases of u this store writes.
func (s *NSSStore) databases(u LocalUser) []string {
	if !s.Firefox {
		return []string{filepath.Join(u.Home, ".pki", "nssdb")}
	}
	var out []string
	for _, base := range []string{
		filepath.Join(u.Home, ".mozilla", "firefox"),
		filepath.Join(u.Home, "snap", "firefox", "common", ".mozilla", "firefox"),
	} {
		dbs, _ := filepath.Glob(filepath.Join(base, "*", "cert9.db"))
		for _, db := range dbs {
			out = append(out, filepath.Dir(db))
		}
	}
	return out
}

// Install imports the key and chain into every database of every user.
// It stops at the first failure, returning what it placed until then.
func (s *NSSStore) Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error) {
	if len(id.Users) == 0 {
		return nil, errNoUsers
	}
	nick := id.Leaf.Subject.CommonName
	if nick == "" || strings.ContainsAny(nick, "\n\r") {
		return nil, errors.New("agent: the device certificate has no usable common name")
	}
	password, p12, err := encodeP12(id)
	if err != nil {
		return nil, err
	}
	var out []Placement
	for _, u := range id.Users {
		for _, db := range s.databases(u) {
			p := Placement{Store: s.Name(), User: u.Name, UID: u.UID, GID: u.GID, Home: u.Home, AsAgent: u.AsAgent, Path: db,
				Serial: id.Leaf.SerialNumber.String(), Nickname: nick}
			if s.TPM != nil && !s.Firefox && s.TPM.Install(ctx, u, &p, id) {
				out = append(out, p)
				continue
			}
			err := s.importInto(ctx, u, &p, p12, password, id.Leaf, id.Intermediates)
			// Recorded even after a failure: a half-done import is removed too.
			out = append(out, p)
			if err != nil {
				return out, fmt.Errorf("agent: install the device identity for %s in %s: %w", u.Name, db, err)
			}
		}
	}
	return out, nil
}

// encodeP12 wraps the key and chain in a PKCS #12 file under a random
// one-time password (AES-256, PBKDF2, SHA-256 MAC).
func encodeP12(id *BrowserIdentity) (string, []byte, error) {
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return "", nil, err
	}
	password := hex.EncodeToString(pw[:])
	p12, err := pkcs12.Modern.WithRand(rand.Reader).Encode(id.Key, id.Leaf, id.Intermediates, password)
	if err != nil {
		return "", nil, fmt.Errorf("agent: package the device identity: %w", err)
	}
	return password, p12, nil
}

// importInto creates db when missing (the shared database only), imports
// the PKCS #12 file as the user, and checks the certificate is there.
func (s *NSSStore) importInto(ctx context.Context, u LocalUser, p *Placement, p12 []byte, password string, leaf *x509.Certificate, cas []*x509.Certificate) error {
	db := p.Path
	as := &u
	if _, err := os.Stat(filepath.Join(db, "cert9.db")); err != nil {
		if s.Firefox {
			return fmt.Errorf("no NSS database in the Firefox profile: %w", err)
		}
		// Both named, so both get 0700 when created (mkdir -m applies to operands only).
		if out, err := s.Run(ctx, Command{Path: "mkdir", Args: []string{"-p", "-m", "0700", filepath.Dir(db), db}, User: as}); err != nil {
			return fmt.Errorf("mkdir: %w: %s", err, trimOut(out))
		}
		if out, err := s.Run(ctx, Command{Path: s.certutil(), Args: []string{"-N", "-d", "sql:" + db, "--empty-password"}, User: as}); err != nil {
			return fmt.Errorf("create the NSS database: %w: %s", err, trimOut(out))
		}
	}
	tmp, err := s.privateFiles(u, map[string][]byte{"identity.p12": p12, "password": []byte(password + "\n")})
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if out, err := s.Run(ctx, Command{Path: s.pk12util(), Args: []string{"-i", filepath.Join(tmp, "identity.p12"),
		"-d", "sql:" + db, "-w", filepath.Join(tmp, "password")}, User: as}); err != nil {
		return fmt.Errorf("pk12util: %w: %s", err, trimOut(out))
	}
	nick, ok := s.nicknameOf(ctx, u, db, leaf)
	if !ok {
		return fmt.Errorf("the certificate is not in %s after the import", db)
	}
	p.Nickname = nick
	p.CANicknames = nil
	for _, c := range cas {
		if n, ok := s.nicknameOf(ctx, u, db, c); ok {
			p.CANicknames = append(p.CANicknames, n)
		}
	}
	return nil
}

// privateFiles writes files into a new directory only the user can read,
// for the user's pk12util to read.
func (s *NSSStore) privateFiles(u LocalUser, files map[string][]byte) (string, error) {
	dir, err := os.MkdirTemp(s.TempDir, "portier-nss-")
	if err != nil {
		return "", err
	}
	chown := s.Chown
	if chown == nil {
		chown = os.Chown
	}
	give := func(p string) error {
		if u.AsAgent || runtime.GOOS == "windows" {
			return nil
		}
		return chown(p, u.UID, u.GID)
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
		if err := give(p); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	if err := give(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// nicknameOf finds the nickname NSS gave cert in db: pk12util derives it
// from the subject's common name (adding the issuer's organization, such
// as "dev_x - Example Corp"), so the candidates starting with the common
// name are listed and the one holding cert is kept.
func (s *NSSStore) nicknameOf(ctx context.Context, u LocalUser, db string, cert *x509.Certificate) (string, bool) {
	out, err := s.Run(ctx, Command{Path: s.certutil(), Args: []string{"-L", "-d", "sql:" + db}, User: &u})
	if err != nil {
		return "", false
	}
	for _, nick := range listNicknames(out) {
		if !strings.HasPrefix(nick, cert.Subject.CommonName) {
			continue
		}
		pemOut, err := s.Run(ctx, Command{Path: s.certutil(), Args: []string{"-L", "-d", "sql:" + db, "-n", nick, "-a"}, User: &u})
		if err != nil {
			continue
		}
		for rest := pemOut; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if bytes.Equal(blk.Bytes, cert.Raw) {
				return nick, true
			}
		}
	}
	return "", false
}

// listNicknames reads the nicknames of `certutil -L` output: each line is
// a nickname, spaces, and the trust flags ("u,u,u", ",,", "CT,C,C").
func listNicknames(out []byte) []string {
	var nicks []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimRight(line, " \t\r")
		i := strings.LastIndexAny(line, " \t")
		if i <= 0 {
			continue
		}
		flags, nick := line[i+1:], strings.TrimSpace(line[:i])
		if nick == "" || strings.Trim(flags, "cCpPuTwu,") != "" || strings.Count(flags, ",") != 2 {
			continue
		}
		nicks = append(nicks, nick)
	}
	return nicks
}

// maxSameNickname bounds the delete loops: NSS deletes one certificate
// per call when several share a nickname.
const maxSameNickname = 16

// keyLine is a line of `certutil -K`: "< 0> ec  <key id>  <nickname>".
var keyLine = regexp.MustCompile(`^<\s*\d+>\s+\S+\s+([0-9a-f]{40})\s+(.*)$`)

// Remove deletes the device certificates, their key and the imported
// intermediates from the placement's database, as its owner, and checks
// the certificate is gone. A database that no longer exists is fine.
func (s *NSSStore) Remove(ctx context.Context, p Placement) error {
	if isTPMPlacement(p) {
		k := &TPMBrowserKeys{Run: s.Run}
		if s.TPM != nil {
			k = s.TPM
		}
		return k.Remove(ctx, p)
	}
	if _, err := os.Stat(p.Path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	u := &LocalUser{Name: p.User, UID: p.UID, GID: p.GID, Home: p.Home, AsAgent: p.AsAgent}
	db := "sql:" + p.Path
	certutil := func(args ...string) ([]byte, error) {
		return s.Run(ctx, Command{Path: s.certutil(), Args: append([]string{args[0], "-d", db}, args[1:]...), User: u})
	}
	// -F deletes a certificate and its key; -D certificates left without
	// a key; then keys left without a certificate.
	for i := 0; i < maxSameNickname; i++ {
		if _, err := certutil("-F", "-n", p.Nickname); err != nil {
			break
		}
	}
	for i := 0; i < maxSameNickname; i++ {
		if _, err := certutil("-D", "-n", p.Nickname); err != nil {
			break
		}
	}
	if out, err := certutil("-K"); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if m := keyLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil && strings.TrimSpace(m[2]) == p.Nickname {
				_, _ = certutil("-F", "-k", m[1])
			}
		}
	}
	for _, ca := range p.CANicknames {
		for i := 0; i < maxSameNickname; i++ {
			if _, err := certutil("-D", "-n", ca); err != nil {
				break
			}
		}
	}
	out, err := certutil("-L")
	if err != nil {
		return fmt.Errorf("agent: list %s after removing the device identity: %w: %s", p.Path, err, trimOut(out))
	}
	if listsNickname(out, p.Nickname) {
		return fmt.Errorf("agent: the device certificate %q is still in %s", p.Nickname, p.Path)
	}
	return nil
}

// listsNickname reports whether `certutil -L` output has a certificate
// named nick.
func listsNickname(out []byte, nick string) bool {
	for _, n := range listNicknames(out) {
		if n == nick {
			return true
		}
	}
	return false
}

// trimOut shortens a tool's output for an error message.
func trimOut(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

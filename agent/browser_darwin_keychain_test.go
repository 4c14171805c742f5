package agent

import (
	"context"
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// cmdRecorder is a CommandRunner that records every command and answers
// through its answer function (nil output and no error when unset).
type cmdRecorder struct {
	cmds   []Command
	answer func(c Command) ([]byte, error)
}

func (r *cmdRecorder) run(_ context.Context, c Command) ([]byte, error) {
	r.cmds = append(r.cmds, c)
	if r.answer != nil {
		return r.answer(c)
	}
	return nil, nil
}

func (r *cmdRecorder) lines() []string {
	var out []string
	for _, c := range r.cmds {
		out = append(out, c.String())
	}
	return out
}

// exitError is what a failing tool gives the runner.
type exitError string

func (e exitError) Error() string { return string(e) }

// findCertOutput is `security find-certificate -a -Z` output (format of
// testdata/darwin/find-certificate-Z.txt) for certificates of these SHA-1s.
func findCertOutput(thumbs ...string) []byte {
	var b strings.Builder
	for _, t := range thumbs {
		b.WriteString("SHA-256 hash: 0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0\nSHA-1 hash: " + t +
			"\nkeychain: \"/Users/alice/Library/Keychains/login.keychain-db\"\nversion: 512\nclass: 0x80001000 \nattributes:\n    \"labl\"<blob>=\"dev_0123456789abcdef\"\n")
	}
	return []byte(b.String())
}

// keychainFake answers like security for a keychain that holds the
// certificates in held (by SHA-1).
func keychainFake(held map[string]bool) func(c Command) ([]byte, error) {
	return func(c Command) ([]byte, error) {
		args := c.Args
		if i := slices.Index(args, "--"); i >= 0 {
			args = args[i+2:]
		}
		switch args[0] {
		case "find-certificate":
			var ts []string
			for t, ok := range held {
				if ok {
					ts = append(ts, t)
				}
			}
			if len(ts) == 0 {
				return []byte("security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n"), exitError("exit status 44")
			}
			return findCertOutput(ts...), nil
		case "delete-identity":
			delete(held, args[2])
		}
		return nil, nil
	}
}

// TestKeychainStoreInstallAsRoot: the root agent imports into alice's
// login keychain through her login session, with a non-extractable key
// that only security and the installed browsers may use (never -A), and
// prefers the identity on every Portier origin.
func TestKeychainStoreInstallAsRoot(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 100, "/Users/alice", "https://wiki.example.com", "https://portier.example.com:8443")
	alice := LocalUser{Name: "alice", UID: 501, GID: 20, Home: "/Users/alice"}
	id.Users = []LocalUser{alice}
	thumb, caThumb := Thumbprint(id.Leaf), Thumbprint(ti.ca)
	held := map[string]bool{}
	var p12Checked bool
	var chowned []string
	tmp := t.TempDir()
	rec := &cmdRecorder{}
	fake := keychainFake(held)
	rec.answer = func(c Command) ([]byte, error) {
		if i := slices.Index(c.Args, "import"); i >= 0 {
			// What the person's security reads: the identity under the password given.
			file, pw := c.Args[i+1], c.Args[slices.Index(c.Args, "-P")+1]
			fi, err := os.Stat(file)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("PKCS #12 file %s: %v %v", file, fi, err)
			}
			b, _ := os.ReadFile(file)
			key, leaf, cas, err := pkcs12.DecodeChain(b, pw)
			if err != nil || !leaf.Equal(id.Leaf) || len(cas) != 1 || !cas[0].Equal(ti.ca) || !key.(*ecdsa.PrivateKey).Equal(ti.key) {
				t.Errorf("PKCS #12 file does not hold the identity: %v", err)
			}
			p12Checked = true
			held[thumb] = true
		}
		return fake(c)
	}
	s := &KeychainStore{Run: rec.run, TempDir: tmp, Exists: func(p string) bool { return p != "/Applications/Microsoft Edge.app" },
		Chown: func(path string, uid, gid int) error { chowned = append(chowned, filepath.Base(path)); return nil }}
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if !p12Checked {
		t.Fatal("security import never ran")
	}
	kc := "/Users/alice/Library/Keychains/login.keychain-db"
	got := rec.lines()
	imp := got[0]
	pw := rec.cmds[0].Args[slices.Index(rec.cmds[0].Args, "-P")+1]
	file := rec.cmds[0].Args[slices.Index(rec.cmds[0].Args, "import")+1]
	want := []string{
		"/bin/launchctl asuser 501 /usr/bin/sudo -u alice -H -- /usr/bin/security import " + file + " -k " + kc +
			" -f pkcs12 -P " + pw + " -x -T /usr/bin/security -T /Applications/Safari.app -T /Applications/Google Chrome.app",
		"/bin/launchctl asuser 501 /usr/bin/sudo -u alice -H -- /usr/bin/security find-certificate -a -Z -c dev_0123456789abcdef " + kc,
		"/bin/launchctl asuser 501 /usr/bin/sudo -u alice -H -- /usr/bin/security set-identity-preference -s https://portier.example.com:8443/ -Z " + thumb + " " + kc,
		"/bin/launchctl asuser 501 /usr/bin/sudo -u alice -H -- /usr/bin/security set-identity-preference -s https://wiki.example.com/ -Z " + thumb + " " + kc,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(imp, " -A") || len(pw) != 48 || !strings.HasPrefix(file, tmp) {
		t.Fatalf("import = %s", imp)
	}
	for _, c := range rec.cmds {
		if c.User != nil {
			t.Fatalf("%s runs with a uid change; launchctl asuser must run as root", c)
		}
	}
	if slices.Sort(chowned); !slices.Equal(chowned, []string{"identity.p12", filepath.Base(filepath.Dir(file))}) && !slices.Equal(chowned, []string{filepath.Base(filepath.Dir(file)), "identity.p12"}) {
		t.Fatalf("chowned %v, want the file and its directory", chowned)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the PKCS #12 file is left behind: %v", err)
	}
	p := ps[0]
	if len(ps) != 1 || p.Store != "keychain" || p.Path != kc || p.Thumbprint != thumb || !slices.Equal(p.CAThumbprints, []string{caThumb}) ||
		!slices.Equal(p.Entries, []string{"https://portier.example.com:8443/", "https://wiki.example.com/"}) || p.User != "alice" || p.UID != 501 {
		t.Fatalf("placement = %+v", ps)
	}

	// Removal: preferences cleared, identity and intermediate deleted, checked.
	rec.cmds = nil
	s.Remove(context.Background(), Placement{}) // no thumbprint: refused, runs nothing
	if len(rec.cmds) != 0 {
		t.Fatalf("a placement without a hash ran %v", rec.lines())
	}
	home := t.TempDir() // the keychain must exist for Remove to act
	p.Path = LoginKeychain(home)
	must(t, os.MkdirAll(filepath.Dir(p.Path), 0o700))
	must(t, os.WriteFile(p.Path, nil, 0o600))
	if err := s.Remove(context.Background(), p); err != nil {
		t.Fatalf("remove: %v", err)
	}
	pre := "/bin/launchctl asuser 501 /usr/bin/sudo -u alice -H -- /usr/bin/security "
	want = []string{
		pre + "set-identity-preference -n -s https://portier.example.com:8443/ " + p.Path,
		pre + "set-identity-preference -n -s https://wiki.example.com/ " + p.Path,
		pre + "delete-identity -Z " + thumb + " " + p.Path,
		pre + "delete-certificate -Z " + caThumb + " " + p.Path,
		pre + "find-certificate -a -Z -c dev_0123456789abcdef " + p.Path,
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Fatalf("remove commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A certificate that survives the deletion is an error.
	held[thumb] = true
	rec.answer = func(c Command) ([]byte, error) {
		if slices.Contains(c.Args, "delete-identity") {
			return []byte("security: SecItemDelete: The user name or passphrase you entered is not correct."), exitError("exit status 1")
		}
		return fake(c)
	}
	if err := s.Remove(context.Background(), p); err == nil || !strings.Contains(err.Error(), "still in") {
		t.Fatalf("remove of a certificate that stays = %v, want an error", err)
	}
}

// TestKeychainStoreAsAgent: an agent running as the person runs security
// itself, with no launchctl or sudo.
func TestKeychainStoreAsAgent(t *testing.T) {
	ti := newTestIdentity(t)
	home := t.TempDir()
	id := ti.issue(t, 7, home, "https://portier.example.com")
	held := map[string]bool{}
	rec := &cmdRecorder{}
	fake := keychainFake(held)
	rec.answer = func(c Command) ([]byte, error) {
		if slices.Contains(c.Args, "import") {
			held[Thumbprint(id.Leaf)] = true
		}
		return fake(c)
	}
	s := &KeychainStore{Run: rec.run, Exists: func(string) bool { return false }, TempDir: t.TempDir()}
	if _, err := s.Install(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.cmds {
		if c.Path != "/usr/bin/security" || c.User == nil || !c.User.AsAgent || c.User.Home != home {
			t.Fatalf("command %s (user %+v), want security as the agent", c, c.User)
		}
	}
	if !slices.Contains(rec.cmds[0].Args, "-x") || slices.Contains(rec.cmds[0].Args, "-A") {
		t.Fatalf("import %s: the key must be non-extractable and not open to every app", rec.cmds[0])
	}
}

// TestKeychainStoreFailedImport: an import that does not put the
// certificate there is an error, and the placement is still recorded so
// what was written can be removed.
func TestKeychainStoreFailedImport(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 8, "/Users/alice", "https://portier.example.com")
	id.Users = []LocalUser{{Name: "alice", UID: 501, Home: "/Users/alice"}}
	rec := &cmdRecorder{answer: keychainFake(map[string]bool{})}
	s := &KeychainStore{Run: rec.run, Exists: func(string) bool { return false }, TempDir: t.TempDir(), Chown: func(string, int, int) error { return nil }}
	ps, err := s.Install(context.Background(), id)
	if err == nil || len(ps) != 1 || ps[0].Thumbprint != Thumbprint(id.Leaf) {
		t.Fatalf("install = %+v, %v; want the placement and an error", ps, err)
	}
	for _, c := range rec.cmds {
		if slices.Contains(c.Args, "set-identity-preference") {
			t.Fatalf("identity preference set for a certificate that is not there: %s", c)
		}
	}
}

// TestKeychainStoreRefusesOptionLikeNames: an account whose name sudo
// would read as an option ("-s" runs a shell, "#0" is uid 0) gets
// nothing, and no command runs: the agent runs as root.
func TestKeychainStoreRefusesOptionLikeNames(t *testing.T) {
	ti := newTestIdentity(t)
	for _, name := range []string{"-s", "#0", "-uroot", "a b", ""} {
		id := ti.issue(t, 9, "/Users/x", "https://portier.example.com")
		id.Users = []LocalUser{{Name: name, UID: 501, Home: "/Users/x"}}
		rec := &cmdRecorder{}
		s := &KeychainStore{Run: rec.run, Exists: func(string) bool { return false }, TempDir: t.TempDir(), Chown: func(string, int, int) error { return nil }}
		if _, err := s.Install(context.Background(), id); err == nil || len(rec.cmds) != 0 {
			t.Fatalf("account %q: err %v, commands %v; want a refusal before any command", name, err, rec.lines())
		}
		home := t.TempDir()
		kc := LoginKeychain(home)
		must(t, os.MkdirAll(filepath.Dir(kc), 0o700))
		must(t, os.WriteFile(kc, nil, 0o600))
		p := Placement{Store: StoreKeychain, User: name, UID: 501, Home: home, Path: kc, Thumbprint: Thumbprint(id.Leaf), Nickname: "dev"}
		if err := s.Remove(context.Background(), p); err == nil || len(rec.cmds) != 0 {
			t.Fatalf("remove for account %q: err %v, commands %v; want a refusal before any command", name, err, rec.lines())
		}
	}
}

func TestParseFindCertificateSHA1(t *testing.T) {
	b, err := os.ReadFile("testdata/darwin/find-certificate-Z.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := ParseFindCertificateSHA1(b)
	want := []string{"3F2A9C1B7D4E5F60718293A4B5C6D7E8F9012345", "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"}
	if !slices.Equal(got, want) {
		t.Fatalf("hashes = %v, want %v", got, want)
	}
	for _, in := range []string{"", "SHA-1 hash: 12", "SHA-1 hash: ZZ2A9C1B7D4E5F60718293A4B5C6D7E8F9012345", "SHA-256 hash: 3F2A9C1B7D4E5F60718293A4B5C6D7E8F9012345"} {
		if got := ParseFindCertificateSHA1([]byte(in)); len(got) != 0 {
			t.Errorf("%q gave %v", in, got)
		}
	}
}

func FuzzParseFindCertificateSHA1(f *testing.F) {
	b, _ := os.ReadFile("testdata/darwin/find-certificate-Z.txt")
	f.Add(b)
	f.Add([]byte("SHA-1 hash: \n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, h := range ParseFindCertificateSHA1(in) {
			if !validThumbprint(h) {
				t.Fatalf("%q is not a SHA-1", h)
			}
		}
	})
}

// TestKeychainStoreAlreadyThere: an identity already in the keychain (its
// record lost) is adopted rather than failing every cycle.
func TestKeychainStoreAlreadyThere(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 11, t.TempDir(), "https://portier.example.com")
	held := map[string]bool{Thumbprint(id.Leaf): true}
	fake := keychainFake(held)
	rec := &cmdRecorder{answer: func(c Command) ([]byte, error) {
		if slices.Contains(c.Args, "import") {
			return []byte("security: SecKeychainItemImport: The specified item already exists in the keychain."), exitError("exit status 1")
		}
		return fake(c)
	}}
	s := &KeychainStore{Run: rec.run, Exists: func(string) bool { return false }, TempDir: t.TempDir()}
	ps, err := s.Install(context.Background(), id)
	if err != nil || len(ps) != 1 || len(ps[0].Entries) != 1 {
		t.Fatalf("install = %+v, %v", ps, err)
	}
}

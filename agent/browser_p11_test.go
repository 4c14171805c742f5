//go:build unix

package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-tpm/legacy/tpm2"
)

// fakeTPMTools plays tpm2_ptool, modutil, certutil and mkdir for
// TPMBrowserKeys; every command is recorded with the temporary directory
// shown as <tmp>.
type fakeTPMTools struct {
	t     *testing.T
	db    string
	calls []string
	// primaries is what listprimaries prints.
	primaries string
	// linked is the key file tpm2_ptool link was given; linkFails makes
	// link fail as when the key's parent is not the token's primary.
	linked    []byte
	linkFails bool
	// pkcs12 counts software imports (the fallback); leaf is what the
	// software import puts in NSS.
	pkcs12 int
	leaf   *x509.Certificate
	// module: the module is in the NSS database.
	module bool
}

func (f *fakeTPMTools) run(_ context.Context, c Command) ([]byte, error) {
	if c.User == nil || c.User.Name != "ann" {
		f.t.Errorf("%s does not run as ann: %+v", c, c.User)
	}
	args := c.Args
	if c.Path == "env" {
		for len(args) > 0 && strings.Contains(args[0], "=") {
			args = args[1:]
		}
		args = args[1:]
	}
	line := c.String()
	for _, a := range args {
		if strings.Contains(a, "portier-nss-") {
			line = strings.ReplaceAll(line, filepath.Dir(a), "<tmp>")
		}
	}
	f.calls = append(f.calls, line)
	switch {
	case c.Path == "mkdir":
		for _, a := range args[3:] {
			os.MkdirAll(a, 0o700)
		}
	case strings.Contains(line, "tpm2_ptool listprimaries"):
		return []byte(f.primaries), nil
	case strings.Contains(line, "tpm2_ptool init"):
		os.WriteFile(filepath.Join(c.User.Home, tpmStoreDir, "tpm2_pkcs11.sqlite3"), nil, 0o600)
		return []byte("action: Added\nid: 1\n"), nil
	case strings.Contains(line, "tpm2_ptool rmtoken"):
		return []byte(`No token labeled "portier"`), errors.New("exit status 1")
	case strings.Contains(line, "tpm2_ptool link"):
		if f.linkFails {
			return []byte("Key must be parent of 0x81000002, got 0x81000001"), errors.New("exit status 1")
		}
		b, err := os.ReadFile(args[len(args)-1])
		if err != nil {
			f.t.Fatal(err)
		}
		f.linked = b
	case strings.Contains(line, "modutil") && slices.Contains(args, "-add"):
		f.module = true
	case strings.Contains(line, "modutil") && slices.Contains(args, "-delete"):
		if !f.module {
			return []byte("ERROR: Failed to delete module"), errors.New("exit status 25")
		}
		f.module = false
	case strings.Contains(line, "modutil") && slices.Contains(args, "-list"):
		if f.module {
			return []byte("  2. " + TPMModuleName + "\n"), nil
		}
		return []byte("  1. NSS Internal PKCS #11 Module\n"), nil
	case line == "certutil -L -d sql:"+f.db:
		return []byte("dev_0123456789abcdef - Test Org     u,u,u\n"), nil
	case line == "certutil -L -d sql:"+f.db+" -n dev_0123456789abcdef - Test Org -a":
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.leaf.Raw}), nil
	case strings.HasPrefix(line, "certutil -N"):
		os.WriteFile(filepath.Join(f.db, "cert9.db"), nil, 0o600)
	case strings.HasPrefix(line, "certutil -L -d sql:"+f.db+" -h all"):
		return []byte("Certificate Nickname     Trust Attributes\n\nportier:dev_0123456789abcdef     u,u,u\n"), nil
	case c.Path == "pk12util":
		f.pkcs12++
		os.WriteFile(filepath.Join(f.db, "cert9.db"), nil, 0o600)
	}
	return nil, nil
}

// tpmTestIdentity is the agent's identity whose NewTPMBrowserKey makes a
// TPM key file (TSS2 PEM of a key of the test) with a certificate from
// the same test CA; the returned slice records the people asked for.
func tpmTestIdentity(t *testing.T, home string) (*BrowserIdentity, *[]string) {
	t.Helper()
	ti := newTestIdentity(t)
	id := ti.issue(t, 7, home, "https://wiki.example.com")
	id.Users = []LocalUser{{Name: "ann", UID: os.Geteuid(), GID: os.Getegid(), Home: home}}
	var people []string
	id.NewTPMBrowserKey = func(_ context.Context, person string) (*TPMBrowserKey, error) {
		people = append(people, person)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return fakeTPMBrowserKey(t, ti, id.DeviceID, &key.PublicKey, &key.PublicKey), nil
	}
	return id, &people
}

// fakeTPMBrowserKey is a key file for the TPM public area of filePub with
// a certificate for certPub (serial 99).
func fakeTPMBrowserKey(t *testing.T, ti *testIdentity, deviceID string, filePub, certPub *ecdsa.PublicKey) *TPMBrowserKey {
	t.Helper()
	pubArea, err := tpm2.Public{Type: tpm2.AlgECC, NameAlg: tpm2.AlgSHA256,
		Attributes: tpm2.FlagSign | tpm2.FlagFixedTPM | tpm2.FlagFixedParent | tpm2.FlagSensitiveDataOrigin | tpm2.FlagUserWithAuth,
		ECCParameters: &tpm2.ECCParams{Sign: &tpm2.SigScheme{Alg: tpm2.AlgECDSA, Hash: tpm2.AlgSHA256}, CurveID: tpm2.CurveNISTP256,
			Point: tpm2.ECPoint{XRaw: filePub.X.FillBytes(make([]byte, 32)), YRaw: filePub.Y.FillBytes(make([]byte, 32))}}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	file, err := encodeTPMKeyFile(pubArea, []byte("wrapped private area"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: deviceID},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ti.ca, certPub, ti.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &TPMBrowserKey{File: file, Chain: []*x509.Certificate{leaf, ti.ca}, Source: "tpm_attested"}
}

func newFakeTPM(t *testing.T, home string, id *BrowserIdentity) (*fakeTPMTools, *NSSStore) {
	f := &fakeTPMTools{t: t, db: filepath.Join(home, ".pki", "nssdb"), leaf: id.Leaf}
	s := &NSSStore{Run: f.run, TempDir: t.TempDir(), Chown: func(string, int, int) error { return nil },
		TPM: &TPMBrowserKeys{Module: "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so", Run: f.run, Device: "-",
			TempDir: t.TempDir(), Chown: func(string, int, int) error { return nil }}}
	return f, s
}

// TestTPMBrowserKeyCommands checks the exact commands that give a person a
// TPM browser key the agent made: the SRK as the store's primary object,
// the key file linked into the token, its certificate added; and that the
// placement says how to remove it.
func TestTPMBrowserKeyCommands(t *testing.T) {
	home := t.TempDir()
	id, people := tpmTestIdentity(t, home)
	made := id.NewTPMBrowserKey
	var key *TPMBrowserKey
	id.NewTPMBrowserKey = func(ctx context.Context, person string) (*TPMBrowserKey, error) {
		k, err := made(ctx, person)
		key = k
		return k, err
	}
	f, s := newFakeTPM(t, home, id)
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	store, db, mod := filepath.Join(home, ".tpm2_pkcs11"), f.db, s.TPM.Module
	want := []string{
		"mkdir -p -m 0700 " + store,
		"tpm2_ptool listprimaries --path=" + store,
		"tpm2_ptool init --primary-handle=0x81000001 --path=" + store,
		"tpm2_ptool rmtoken --label=portier --path=" + store,
		"tpm2_ptool addtoken --pid=1 --sopin=<random> --userpin= --label=portier --path=" + store,
		"tpm2_ptool link --label=portier --key-label=dev_0123456789abcdef --userpin= --path=" + store + " <tmp>/browser.key",
		"tpm2_ptool addcert --label=portier --key-label=dev_0123456789abcdef --path=" + store + " <tmp>/cert.pem",
		"mkdir -p -m 0700 " + filepath.Dir(db) + " " + db,
		"certutil -N -d sql:" + db + " --empty-password",
		"modutil -dbdir sql:" + db + " -delete Portier TPM -force",
		"modutil -dbdir sql:" + db + " -add Portier TPM -libfile " + mod + " -force",
		"certutil -A -d sql:" + db + " -n Portier Intermediate CA -t ,, -a -i <tmp>/ca-0.pem",
		"certutil -L -d sql:" + db + " -h all",
	}
	for i, c := range f.calls {
		if strings.Contains(c, "--sopin=") {
			so := strings.Fields(c)[3]
			if len(so) != len("--sopin=")+32 {
				t.Errorf("SO PIN %q is not 16 random bytes", so)
			}
			f.calls[i] = strings.Replace(c, so, "--sopin=<random>", 1)
		}
	}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("commands:\n  %s\nwant:\n  %s", strings.Join(f.calls, "\n  "), strings.Join(want, "\n  "))
	}
	if !slices.Equal(*people, []string{"ann"}) {
		t.Fatalf("keys made for %q", *people)
	}
	if string(f.linked) != string(key.File) {
		t.Error("the token linked another file than the agent's key")
	}
	if f.pkcs12 != 0 {
		t.Error("the software key was imported too")
	}
	if len(ps) != 1 || ps[0].Store != StoreNSS || ps[0].Nickname != "portier:dev_0123456789abcdef" || ps[0].Serial != "99" ||
		!slices.Equal(ps[0].CANicknames, []string{"Portier Intermediate CA"}) || !isTPMPlacement(ps[0]) {
		t.Fatalf("placement = %+v", ps[0])
	}
	if left, _ := filepath.Glob(filepath.Join(s.TPM.TempDir, "*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Removal: module out of NSS, intermediates, then the token.
	f.calls = nil
	if err := s.Remove(context.Background(), ps[0]); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"modutil -dbdir sql:" + db + " -list",
		"modutil -dbdir sql:" + db + " -delete Portier TPM -force",
		"certutil -D -d sql:" + db + " -n Portier Intermediate CA",
		"certutil -D -d sql:" + db + " -n Portier Intermediate CA",
	}
	// certutil -D succeeds in the fake: the loop stops at maxSameNickname.
	for i := 2; i < maxSameNickname; i++ {
		want = append(want, want[2])
	}
	want = append(want, "tpm2_ptool rmtoken --label=portier --path="+store)
	if !slices.Equal(f.calls, want[:len(f.calls)]) || len(f.calls) != len(want) {
		t.Errorf("remove commands:\n  %s", strings.Join(f.calls, "\n  "))
	}
}

// TestTPMBrowserKeyFallsBack: whatever goes wrong on the TPM side, the
// person gets the software key as before, and what was made is removed.
func TestTPMBrowserKeyFallsBack(t *testing.T) {
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, spoil := range map[string]func(f *fakeTPMTools, id *BrowserIdentity, ti *testIdentity){
		// The certificate is for another key than the key file's.
		"certificate for another key": func(_ *fakeTPMTools, id *BrowserIdentity, ti *testIdentity) {
			id.NewTPMBrowserKey = func(context.Context, string) (*TPMBrowserKey, error) {
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				return fakeTPMBrowserKey(t, ti, id.DeviceID, &k.PublicKey, &other.PublicKey), nil
			}
		},
		// The key file is a software key, not a TPM key.
		"software key file": func(_ *fakeTPMTools, id *BrowserIdentity, ti *testIdentity) {
			id.NewTPMBrowserKey = func(context.Context, string) (*TPMBrowserKey, error) {
				k := fakeTPMBrowserKey(t, ti, id.DeviceID, &other.PublicKey, &other.PublicKey)
				der, _ := x509.MarshalPKCS8PrivateKey(other)
				k.File = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
				return k, nil
			}
		},
		"no TPM or server refuses": func(_ *fakeTPMTools, id *BrowserIdentity, _ *testIdentity) {
			id.NewTPMBrowserKey = func(context.Context, string) (*TPMBrowserKey, error) {
				return nil, errors.New("agent: ask the server for a browser certificate: 403: this device is revoked")
			}
		},
		// tpm2_ptool refuses the key (a store whose primary is not the SRK).
		"link fails": func(f *fakeTPMTools, _ *BrowserIdentity, _ *testIdentity) { f.linkFails = true },
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			id, _ := tpmTestIdentity(t, home)
			f, s := newFakeTPM(t, home, id)
			spoil(f, id, newTestIdentity(t))
			ps, err := s.Install(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if f.pkcs12 != 1 || len(ps) != 1 || isTPMPlacement(ps[0]) || ps[0].Nickname == "portier:dev_0123456789abcdef" {
				t.Fatalf("no software fallback: %d imports, %+v", f.pkcs12, ps)
			}
			if slices.ContainsFunc(f.calls, func(c string) bool { return strings.Contains(c, "addtoken") }) &&
				!slices.Contains(f.calls, "tpm2_ptool rmtoken --label=portier --path="+filepath.Join(home, ".tpm2_pkcs11")) {
				t.Errorf("the half-made token was not removed:\n  %s", strings.Join(f.calls, "\n  "))
			}
		})
	}
	t.Run("no way to make the key", func(t *testing.T) {
		home := t.TempDir()
		id, _ := tpmTestIdentity(t, home)
		id.NewTPMBrowserKey = nil
		f, s := newFakeTPM(t, home, id)
		if _, err := s.Install(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.calls {
			if strings.Contains(c, "tpm2_ptool") && !strings.Contains(c, "rmtoken") {
				t.Errorf("ran %s without a key", c)
			}
		}
		if f.pkcs12 != 1 {
			t.Error("no software key")
		}
	})
}

// TestTPMBrowserKeyUsesTheStoreSRK: a store that already has the SRK as a
// primary object keeps it (no second init); a store whose only primary
// is another handle, or transient, gets the SRK added.
func TestTPMBrowserKeyUsesTheStoreSRK(t *testing.T) {
	const srk = "810000010022000bccccea46"
	for name, tc := range map[string]struct {
		primaries string
		pid       string
		init      bool
	}{
		"SRK present":  {"- config:\n    esys-tr: 81000002aa\n    transient: false\n  id: 1\n- config:\n    esys-tr: " + srk + "\n    transient: false\n  id: 2\n", "2", false},
		"other handle": {"- config:\n    esys-tr: 81000002aa\n    transient: false\n  id: 1\n", "1", true},
		"transient":    {"- config:\n    template-name: tpm2-tools-default\n    transient: true\n  id: 3\n", "1", true},
		"empty store":  {"", "1", true},
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			id, _ := tpmTestIdentity(t, home)
			f, s := newFakeTPM(t, home, id)
			f.primaries = tc.primaries
			ps, err := s.Install(context.Background(), id)
			if err != nil || len(ps) != 1 || !isTPMPlacement(ps[0]) {
				t.Fatalf("install: %v %+v\n  %s", err, ps, strings.Join(f.calls, "\n  "))
			}
			inits := slices.ContainsFunc(f.calls, func(c string) bool { return strings.Contains(c, "tpm2_ptool init") })
			added := slices.ContainsFunc(f.calls, func(c string) bool { return strings.Contains(c, "addtoken --pid="+tc.pid+" ") })
			if inits != tc.init || !added {
				t.Errorf("init %v (want %v), token under primary %s: %v\n  %s", inits, tc.init, tc.pid, added, strings.Join(f.calls, "\n  "))
			}
		})
	}
}

// TestTPMBrowserKeyErrorsHideSOPIN: a failing addtoken is reported by
// name, never with its arguments (the SO PIN).
func TestTPMBrowserKeyErrorsHideSOPIN(t *testing.T) {
	var sopin string
	k := &TPMBrowserKeys{Module: "/m.so", Env: []string{"TPM2TOOLS_TCTI=x"}, Run: func(_ context.Context, c Command) ([]byte, error) {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--sopin="); ok {
				sopin = v
			}
		}
		return []byte("ERROR: Esys_CreatePrimary(0x9a2) - tpm:session(1):authorization failure"), errors.New("exit status 1")
	}}
	_, err := k.ptool(context.Background(), LocalUser{Name: "ann"}, "addtoken", "--pid=1", "--sopin=0123456789abcdef", "--userpin=")
	if err == nil || sopin == "" || strings.Contains(err.Error(), sopin) || !strings.HasPrefix(err.Error(), "tpm2_ptool addtoken: exit status 1: ERROR") {
		t.Errorf("error = %v", err)
	}
}

// TestTPMBrowserKeyEnv: with a test TPM's TCTI, every tool runs through env.
func TestTPMBrowserKeyEnv(t *testing.T) {
	var got []string
	k := &TPMBrowserKeys{Module: "/m.so", Env: []string{"TPM2TOOLS_TCTI=tabrmd:bus_type=session"},
		Run: func(_ context.Context, c Command) ([]byte, error) { got = append(got, c.String()); return nil, nil }}
	u := LocalUser{Name: "ann", Home: "/home/ann"}
	k.ptool(context.Background(), u, "listprimaries", "--path=/home/ann/.tpm2_pkcs11")
	k.modutil(context.Background(), u, "/home/ann/.pki/nssdb", "-list")
	want := []string{"env TPM2TOOLS_TCTI=tabrmd:bus_type=session tpm2_ptool listprimaries --path=/home/ann/.tpm2_pkcs11",
		"env TPM2TOOLS_TCTI=tabrmd:bus_type=session modutil -dbdir sql:/home/ann/.pki/nssdb -list"}
	if !slices.Equal(got, want) {
		t.Errorf("commands = %q", got)
	}
}

func TestReadPersonFile(t *testing.T) {
	dir := t.TempDir()
	u := LocalUser{Name: "ann", UID: os.Geteuid()}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("sig"), 0o600)
	if b, err := readPersonFile(plain, u); err != nil || string(b) != "sig" {
		t.Fatalf("plain file: %q %v", b, err)
	}
	os.Symlink(plain, filepath.Join(dir, "link"))
	os.Link(plain, filepath.Join(dir, "hard"))
	for _, name := range []string{"link", "hard"} {
		if _, err := readPersonFile(filepath.Join(dir, name), u); err == nil {
			t.Errorf("%s was read", name)
		}
	}
	other := LocalUser{Name: "bob", UID: os.Geteuid() + 1}
	single := filepath.Join(dir, "single")
	os.WriteFile(single, []byte("x"), 0o600)
	if _, err := readPersonFile(single, other); err == nil {
		t.Error("a file of another owner was read")
	}
}

func TestDetectTPMBrowserKeys(t *testing.T) {
	all := func(string) (string, error) { return "/usr/bin/x", nil }
	none := func(string) (string, error) { return "", errors.New("not found") }
	full := fstest.MapFS{"dev/tpmrm0": {}, "usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so": {}}
	if k := DetectTPMBrowserKeys(full, all, nil); k == nil || k.Module != "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so" {
		t.Errorf("full machine: %+v", k)
	}
	if DetectTPMBrowserKeys(full, none, nil) != nil {
		t.Error("found without the tools")
	}
	if DetectTPMBrowserKeys(fstest.MapFS{"usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so": {}}, all, nil) != nil {
		t.Error("found without /dev/tpmrm0")
	}
	if DetectTPMBrowserKeys(fstest.MapFS{"dev/tpmrm0": {}}, all, nil) != nil {
		t.Error("found without the module")
	}
}

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
)

// fakeTPMTools plays tpm2_ptool, pkcs11-tool, modutil, certutil and mkdir
// for TPMBrowserKeys: the "TPM" key is key; every command is recorded
// with the temporary directory shown as <tmp>.
type fakeTPMTools struct {
	t     *testing.T
	key   *ecdsa.PrivateKey
	db    string
	calls []string
	// signWith, when set, signs instead of key (a lying token).
	signWith *ecdsa.PrivateKey
	// symlinkTo, when set, makes the public key file a link to it.
	symlinkTo string
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
	arg := func(name string) string {
		i := slices.Index(args, name)
		if i < 0 || i+1 >= len(args) {
			f.t.Fatalf("%s has no %s", c, name)
		}
		return args[i+1]
	}
	switch {
	case c.Path == "mkdir":
		for _, a := range args[3:] {
			os.MkdirAll(a, 0o700)
		}
	case strings.Contains(line, "tpm2_ptool init"):
		os.WriteFile(filepath.Join(c.User.Home, tpmStoreDir, "tpm2_pkcs11.sqlite3"), nil, 0o600)
		return []byte("action: Created\nid: 1\n"), nil
	case strings.Contains(line, "tpm2_ptool rmtoken"):
		return []byte(`No token labeled "portier"`), errors.New("exit status 1")
	case strings.Contains(line, "--read-object"):
		out := arg("--output-file")
		if f.symlinkTo != "" {
			return nil, os.Symlink(f.symlinkTo, out)
		}
		der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
		return nil, os.WriteFile(out, der, 0o600)
	case strings.Contains(line, "--sign"):
		digest, err := os.ReadFile(arg("--input-file"))
		if err != nil {
			f.t.Fatal(err)
		}
		k := f.key
		if f.signWith != nil {
			k = f.signWith
		}
		sig, _ := ecdsa.SignASN1(rand.Reader, k, digest)
		return nil, os.WriteFile(arg("--output-file"), sig, 0o600)
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

// tpmTestIdentity is the agent's identity plus a server that issues
// browser certificates from the same test CA, recording what it got.
func tpmTestIdentity(t *testing.T, home string) (*BrowserIdentity, *[][]byte) {
	t.Helper()
	ti := newTestIdentity(t)
	id := ti.issue(t, 7, home, "https://wiki.example.com")
	id.Users = []LocalUser{{Name: "ann", UID: os.Geteuid(), GID: os.Getegid(), Home: home}}
	var csrs [][]byte
	id.IssueBrowserCertificate = func(_ context.Context, person string, csrPEM []byte) ([]*x509.Certificate, error) {
		if person != "ann" {
			t.Errorf("browser certificate asked for %q", person)
		}
		csrs = append(csrs, csrPEM)
		blk, _ := pemDecode(csrPEM)
		csr, err := x509.ParseCertificateRequest(blk)
		if err != nil {
			return nil, err
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: id.DeviceID},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ti.ca, csr.PublicKey, ti.caKey)
		if err != nil {
			return nil, err
		}
		leaf, _ := x509.ParseCertificate(der)
		return []*x509.Certificate{leaf, ti.ca}, nil
	}
	return id, &csrs
}

func newFakeTPM(t *testing.T, home string, id *BrowserIdentity) (*fakeTPMTools, *NSSStore) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeTPMTools{t: t, key: key, db: filepath.Join(home, ".pki", "nssdb"), leaf: id.Leaf}
	s := &NSSStore{Run: f.run, TempDir: t.TempDir(), Chown: func(string, int, int) error { return nil },
		TPM: &TPMBrowserKeys{Module: "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so", Run: f.run, Device: "-",
			TempDir: t.TempDir(), Chown: func(string, int, int) error { return nil }}}
	return f, s
}

// TestTPMBrowserKeyCommands checks the exact commands that give a person a
// TPM browser key, that the certificate request is signed by the token's
// key, and that the placement says how to remove it.
func TestTPMBrowserKeyCommands(t *testing.T) {
	home := t.TempDir()
	id, csrs := tpmTestIdentity(t, home)
	f, s := newFakeTPM(t, home, id)
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	store, db, mod := filepath.Join(home, ".tpm2_pkcs11"), f.db, s.TPM.Module
	p11 := "pkcs11-tool --module " + mod + " --token-label portier "
	want := []string{
		"mkdir -p -m 0700 " + store,
		"tpm2_ptool listprimaries --path=" + store,
		"tpm2_ptool init --path=" + store,
		"tpm2_ptool rmtoken --label=portier --path=" + store,
		"tpm2_ptool addtoken --pid=1 --sopin=<random> --userpin= --label=portier --path=" + store,
		"tpm2_ptool addkey --label=portier --key-label=dev_0123456789abcdef --userpin= --algorithm=ecc256 --path=" + store,
		p11 + "--read-object --type pubkey --label dev_0123456789abcdef --output-file <tmp>/public.der",
		p11 + "--sign --mechanism ECDSA --label dev_0123456789abcdef --signature-format openssl --input-file <tmp>/digest --output-file <tmp>/signature",
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
	if len(*csrs) != 1 {
		t.Fatalf("%d certificate requests", len(*csrs))
	}
	blk, _ := pemDecode((*csrs)[0])
	csr, _ := x509.ParseCertificateRequest(blk)
	if !f.key.PublicKey.Equal(csr.PublicKey) {
		t.Error("the certificate request is not for the token's key")
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
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("root's secret"), 0o600)
	for name, spoil := range map[string]func(f *fakeTPMTools, id *BrowserIdentity){
		// A modified token: its signature is another key's.
		"token signs with another key": func(f *fakeTPMTools, _ *BrowserIdentity) {
			f.signWith, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		},
		// The server answers with a certificate for another key.
		"certificate for another key": func(f *fakeTPMTools, id *BrowserIdentity) {
			id.IssueBrowserCertificate = func(context.Context, string, []byte) ([]*x509.Certificate, error) {
				return []*x509.Certificate{id.Leaf}, nil
			}
		},
		// The person links the output file to a file of root's.
		"public key file is a symlink": func(f *fakeTPMTools, _ *BrowserIdentity) { f.symlinkTo = secret },
		"server refuses": func(f *fakeTPMTools, id *BrowserIdentity) {
			id.IssueBrowserCertificate = func(context.Context, string, []byte) ([]*x509.Certificate, error) {
				return nil, errors.New("403: this device is revoked")
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			id, _ := tpmTestIdentity(t, home)
			f, s := newFakeTPM(t, home, id)
			spoil(f, id)
			ps, err := s.Install(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if f.pkcs12 != 1 || len(ps) != 1 || isTPMPlacement(ps[0]) || ps[0].Nickname == "portier:dev_0123456789abcdef" {
				t.Fatalf("no software fallback: %d imports, %+v", f.pkcs12, ps)
			}
			if !slices.Contains(f.calls, "tpm2_ptool rmtoken --label=portier --path="+filepath.Join(home, ".tpm2_pkcs11")) {
				t.Errorf("the half-made token was not removed:\n  %s", strings.Join(f.calls, "\n  "))
			}
		})
	}
	t.Run("no way to ask the server", func(t *testing.T) {
		home := t.TempDir()
		id, _ := tpmTestIdentity(t, home)
		id.IssueBrowserCertificate = nil
		f, s := newFakeTPM(t, home, id)
		if _, err := s.Install(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		for _, c := range f.calls {
			if strings.Contains(c, "tpm2_ptool") && !strings.Contains(c, "rmtoken") {
				t.Errorf("ran %s without a way to get a certificate", c)
			}
		}
		if f.pkcs12 != 1 {
			t.Error("no software key")
		}
	})
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
	k.pkcs11(context.Background(), u, "-O")
	want := []string{"env TPM2TOOLS_TCTI=tabrmd:bus_type=session tpm2_ptool listprimaries --path=/home/ann/.tpm2_pkcs11",
		"env TPM2TOOLS_TCTI=tabrmd:bus_type=session pkcs11-tool --module /m.so --token-label portier -O"}
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

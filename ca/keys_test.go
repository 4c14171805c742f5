package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store"
)

func TestFirstStartCreatesCA(t *testing.T) {
	e := newEnv(t, func(o *ca.Options) { o.Organization = "Acme" })
	dir := filepath.Join(e.dir, "ca")
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("ca dir mode = %v, want 0700", got)
	}
	for name, want := range map[string]os.FileMode{
		"root.crt": 0o644, "intermediate.crt": 0o644, "root.key": 0o600, "intermediate.key": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(e.dir, ".ca.new-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	root, inter := e.ca.Roots()[0], e.ca.Intermediate()
	if root.Subject.CommonName != "Portier Root CA" || inter.Subject.CommonName != "Portier Intermediate CA" {
		t.Errorf("names: root %q, intermediate %q", root.Subject.CommonName, inter.Subject.CommonName)
	}
	if root.Subject.Organization[0] != "Acme" {
		t.Errorf("root organization = %v, want Acme", root.Subject.Organization)
	}
	for _, c := range []*x509.Certificate{root, inter} {
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() || !c.IsCA {
			t.Errorf("%s: want a P-256 CA certificate", c.Subject.CommonName)
		}
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		t.Errorf("intermediate not signed by root: %v", err)
	}
	if years := root.NotAfter.Sub(e.clock.Now()).Hours() / 24 / 365; years < 9.9 {
		t.Errorf("root valid for %.1f years, want 10", years)
	}
	sum := sha256.Sum256(root.Raw)
	if got := e.ca.Fingerprint(); got != hex.EncodeToString(sum[:]) || len(got) != 64 {
		t.Errorf("Fingerprint = %q", got)
	}
	block, _ := pem.Decode(e.ca.RootsPEM())
	if block == nil || string(block.Bytes) != string(root.Raw) {
		t.Error("RootsPEM does not hold the root")
	}
}

func TestRestartKeepsCA(t *testing.T) {
	dir := t.TempDir()
	keys := &ca.FileKeyStore{Dir: filepath.Join(dir, "ca")}
	var fps []string
	for range 2 {
		st := openStore(t, t.TempDir())
		c, err := ca.New(context.Background(), ca.Options{Store: st, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		fps = append(fps, c.Fingerprint())
		c.Close()
	}
	if fps[0] != fps[1] {
		t.Errorf("fingerprint changed across restart: %s → %s", fps[0], fps[1])
	}
}

func TestBrokenKeyFilesStopStart(t *testing.T) {
	other := filepath.Join(t.TempDir(), "ca")
	if _, err := ca.New(context.Background(), ca.Options{Store: openStore(t, t.TempDir()), Keys: &ca.FileKeyStore{Dir: other}}); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := os.ReadFile(filepath.Join(other, "intermediate.key"))

	tests := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"missing intermediate key", func(d string) { os.Remove(filepath.Join(d, "intermediate.key")) }, "incomplete CA key material"},
		{"missing both certs", func(d string) {
			os.Remove(filepath.Join(d, "root.crt"))
			os.Remove(filepath.Join(d, "intermediate.crt"))
		}, "missing root.crt, intermediate.crt"},
		{"truncated certificate", func(d string) { truncate(t, filepath.Join(d, "intermediate.crt")) }, "intermediate.crt is corrupt"},
		{"garbage key", func(d string) {
			os.WriteFile(filepath.Join(d, "root.key"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
		}, "root.key is corrupt"},
		{"key of another CA", func(d string) { os.WriteFile(filepath.Join(d, "intermediate.key"), otherKey, 0o600) }, "do not belong together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			st := openStore(t, t.TempDir())
			c, err := ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: dir}})
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			tc.damage(dir)
			before := snapshot(t, dir)
			_, err = ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: dir}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Error("New modified the CA directory after refusing it")
			}
		})
	}
}

func TestOfflineRootKeyIsAccepted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	st := openStore(t, t.TempDir())
	c1, err := ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	os.Remove(filepath.Join(dir, "root.key"))
	c2, err := ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: dir}})
	if err != nil {
		t.Fatalf("New without root.key: %v", err)
	}
	defer c2.Close()
	if c2.Fingerprint() != c1.Fingerprint() {
		t.Error("fingerprint changed")
	}
	if _, err := c2.IssueDevice(context.Background(), newCSR(t, p256(t), nil), "dev-1", ca.KeyInfo{}); err != nil {
		t.Errorf("issue with offline root: %v", err)
	}
}

func truncate(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b[:len(b)/2], 0o644)
}

func snapshot(t *testing.T, dir string) string {
	entries, _ := os.ReadDir(dir)
	var sb strings.Builder
	for _, en := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, en.Name()))
		sb.WriteString(en.Name() + "=" + string(b) + ";")
	}
	return sb.String()
}

func TestSealedKeyStore(t *testing.T) {
	st := openStore(t, t.TempDir())
	ctx := context.Background()
	pw := []byte("correct horse battery staple, 32+ chars")
	ks, err := ca.NewSealedKeyStore(st, pw)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := ca.New(ctx, ca.Options{Store: st, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	blob, ok := st.Blob(ca.SealedKeysBlob)
	if !ok {
		t.Fatal("no sealed blob in the store")
	}
	if strings.Contains(string(blob.Data), "PRIVATE KEY") || strings.Contains(string(blob.Data), "Portier Root CA") {
		t.Error("sealed blob holds plaintext")
	}

	t.Run("reload", func(t *testing.T) {
		ks2, _ := ca.NewSealedKeyStore(st, pw)
		c2, err := ca.New(ctx, ca.Options{Store: st, Keys: ks2})
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		if c2.Fingerprint() != c1.Fingerprint() {
			t.Error("fingerprint changed after reload")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		bad, _ := ca.NewSealedKeyStore(st, []byte("not the right password, but long enough"))
		_, err := ca.New(ctx, ca.Options{Store: st, Keys: bad})
		if !errors.Is(err, ca.ErrWrongPassword) {
			t.Fatalf("New = %v, want ErrWrongPassword", err)
		}
		if b, _ := st.Blob(ca.SealedKeysBlob); string(b.Data) != string(blob.Data) {
			t.Error("the sealed blob was replaced")
		}
	})
	t.Run("corrupt blob", func(t *testing.T) {
		st2 := openStore(t, t.TempDir())
		st2.Write(ctx, store.Put(&store.Blob{ID: ca.SealedKeysBlob, Data: []byte("{not json")}))
		ks, _ := ca.NewSealedKeyStore(st2, pw)
		if _, err := ca.New(ctx, ca.Options{Store: st2, Keys: ks}); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("New = %v, want a corrupt-blob error", err)
		}
	})
	t.Run("short password", func(t *testing.T) {
		if _, err := ca.NewSealedKeyStore(st, []byte("short")); err == nil {
			t.Error("a 5-character password was accepted")
		}
	})
}

func TestKeyPassword(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ca.pass")
	os.WriteFile(f, []byte("from-the-key-file-0123456789\n"), 0o600)
	if got, err := ca.KeyPassword("from-env", f); err != nil || string(got) != "from-the-key-file-0123456789" {
		t.Errorf("KeyPassword(file) = %q, %v", got, err)
	}
	if got, err := ca.KeyPassword("from-env", ""); err != nil || string(got) != "from-env" {
		t.Errorf("KeyPassword(env) = %q, %v", got, err)
	}
	if _, err := ca.KeyPassword("", ""); err == nil || !strings.Contains(err.Error(), "PORTIER_CA_KEY_PASSWORD") {
		t.Errorf("KeyPassword() = %v, want an error naming PORTIER_CA_KEY_PASSWORD", err)
	}
}

// Replicas racing on first start must end with one CA, created once.
func TestCreateRace(t *testing.T) {
	for _, kind := range []string{"sealed", "files"} {
		t.Run(kind, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			dir := filepath.Join(t.TempDir(), "ca")
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			const n = 3
			fps := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					var ks ca.KeyStore = &ca.FileKeyStore{Dir: dir}
					if kind == "sealed" {
						var err error
						if ks, err = ca.NewSealedKeyStore(st, []byte("shared password for all replicas")); err != nil {
							errs[i] = err
							return
						}
					}
					c, err := ca.New(context.Background(), ca.Options{Store: st, Keys: ks, Log: log})
					if err != nil {
						errs[i] = err
						return
					}
					fps[i] = c.Fingerprint()
					c.Close()
				})
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("replica %d: %v", i, errs[i])
				}
				if fps[i] != fps[0] {
					t.Errorf("replica %d has root %s, replica 0 has %s", i, fps[i], fps[0])
				}
			}
			if got := strings.Count(logs.String(), "created a new root"); got != 1 {
				t.Errorf("CA created %d times, want once", got)
			}
		})
	}
}

func TestFileKeyStoreDirs(t *testing.T) {
	st := openStore(t, t.TempDir())
	t.Run("empty dir made by the operator", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ca")
		os.Mkdir(dir, 0o755)
		c, err := ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: dir}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
			t.Errorf("dir mode = %v, want 0700", fi.Mode().Perm())
		}
	})
	t.Run("dir with other files", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "ca")
		os.Mkdir(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600)
		_, err := ca.New(context.Background(), ca.Options{Store: st, Keys: &ca.FileKeyStore{Dir: dir}})
		if err == nil || !strings.Contains(err.Error(), "holds no CA") {
			t.Fatalf("New = %v, want a clear error", err)
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

//go:build unix

package agent

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// TestNSSStoreCommands checks the exact commands the NSS store runs for
// another user, as that user, and the PKCS #12 file it hands over.
func TestNSSStoreCommands(t *testing.T) {
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	ti := newTestIdentity(t)
	id := ti.issue(t, 7, home, "https://wiki.example.com")
	id.Users = []LocalUser{{Name: "ann", UID: 1001, GID: 1002, Home: home}}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Leaf.Raw})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ti.ca.Raw})
	var calls []string
	chowned := map[string]int{}
	var p12OK bool
	run := func(_ context.Context, c Command) ([]byte, error) {
		if c.User == nil || c.User.UID != 1001 || c.User.GID != 1002 || c.User.AsAgent {
			t.Errorf("%s runs as %+v, not as ann", c, c.User)
		}
		calls = append(calls, c.String())
		switch {
		case c.Path == "pk12util":
			pw, err := os.ReadFile(c.Args[5])
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(c.Args[1])
			key, cert, cas, err := pkcs12.DecodeChain(data, strings.TrimSpace(string(pw)))
			p12OK = err == nil && cert.Equal(id.Leaf) && len(cas) == 1 && cas[0].Equal(ti.ca) && key != nil
			if fi, _ := os.Stat(c.Args[1]); fi.Mode().Perm() != 0o600 {
				t.Errorf("the PKCS #12 file has mode %v", fi.Mode())
			}
			// What the real pk12util creates.
			os.WriteFile(filepath.Join(db, "cert9.db"), nil, 0o600)
		case c.String() == "certutil -L -d sql:"+db:
			return []byte("\nCertificate Nickname                                         Trust Attributes\n" +
				"                                                             SSL,S/MIME,JAR/XPI\n\n" +
				"dev_0123456789abcdef - Test Org                              u,u,u\n" +
				"Portier Intermediate CA - Test Org                           ,,   \n"), nil
		case strings.HasPrefix(c.String(), "certutil -L -d sql:"+db+" -n dev_0123456789abcdef - Test Org -a"):
			return leafPEM, nil
		case strings.HasPrefix(c.String(), "certutil -L -d sql:"+db+" -n Portier Intermediate CA - Test Org -a"):
			return caPEM, nil
		case c.Path == "mkdir":
			os.MkdirAll(db, 0o700)
		}
		return nil, nil
	}
	s := &NSSStore{Run: run, TempDir: t.TempDir(), Chown: func(p string, uid, gid int) error {
		if uid != 1001 || gid != 1002 {
			t.Errorf("chown %s to %d:%d", p, uid, gid)
		}
		chowned[filepath.Base(p)] = uid
		return nil
	}}
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"mkdir -p -m 0700 " + filepath.Dir(db) + " " + db,
		"certutil -N -d sql:" + db + " --empty-password",
		"pk12util -i " + "<tmp>/identity.p12 -d sql:" + db + " -w <tmp>/password",
		"certutil -L -d sql:" + db,
		"certutil -L -d sql:" + db + " -n dev_0123456789abcdef - Test Org -a",
		"certutil -L -d sql:" + db,
		"certutil -L -d sql:" + db + " -n Portier Intermediate CA - Test Org -a",
	}
	for i := range calls {
		if f := strings.Fields(calls[i]); len(f) > 2 && f[0] == "pk12util" {
			calls[i] = strings.Replace(strings.Replace(calls[i], filepath.Dir(f[2]), "<tmp>", 1), filepath.Dir(f[2]), "<tmp>", 1)
		}
	}
	if !slices.Equal(calls, want) {
		t.Errorf("commands:\n  %s\nwant:\n  %s", strings.Join(calls, "\n  "), strings.Join(want, "\n  "))
	}
	if !p12OK {
		t.Error("the PKCS #12 file does not hold the key, the leaf and the intermediate under the password file's password")
	}
	if len(chowned) != 3 {
		t.Errorf("chowned %v, want the directory, the PKCS #12 file and the password file", chowned)
	}
	if len(ps) != 1 || ps[0].Nickname != "dev_0123456789abcdef - Test Org" || ps[0].User != "ann" || ps[0].UID != 1001 ||
		!slices.Equal(ps[0].CANicknames, []string{"Portier Intermediate CA - Test Org"}) {
		t.Errorf("placements = %+v", ps)
	}
	if left, _ := filepath.Glob(filepath.Join(s.TempDir, "*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// Removal as ann: a failing certutil is reported, never "removed".
	s.Run = func(_ context.Context, c Command) ([]byte, error) { return nil, errors.New("exec: certutil not found") }
	if err := s.Remove(context.Background(), ps[0]); err == nil {
		t.Error("Remove reported success although certutil could not run")
	}
}

func TestHumanUsers(t *testing.T) {
	passwd := []byte(`root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
ann:x:1000:1000:Ann,,,:/home/ann:/bin/bash
bob:x:1001:1001::/home/bob:/usr/sbin/nologin
carl:x:1002:1002::/home/carl:/bin/zsh
dora:x:1003:1003::/home/dora:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
eve:x:1004:1004::relative/home:/bin/bash
# comment
broken:x:abc:1::/home/broken:/bin/bash
ann:x:1000:1000:dup:/home/ann:/bin/bash
`)
	owners := map[string]int{"/home/ann": 1000, "/home/bob": 1001, "/home/carl": 0} // carl's home is root's; dora has none
	got := HumanUsers(passwd, func(p string) (int, bool) { uid, ok := owners[p]; return uid, ok })
	if len(got) != 1 || got[0] != (LocalUser{Name: "ann", UID: 1000, GID: 1000, Home: "/home/ann"}) {
		t.Errorf("HumanUsers = %+v, want only ann", got)
	}
}

func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte("ann:x:1000:1000:Ann:/home/ann:/bin/bash\n"))
	f.Add([]byte("::::::\n+::::::\nx:x:-1:0:::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range ParsePasswd(data) {
			if e.Name == "" || e.UID < 0 || e.GID < 0 || strings.ContainsAny(e.Name+e.Home+e.Shell, ":\n") {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

func TestChromePolicy(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 9, t.TempDir(), "https://wiki.example.com/", "https://Portier.example.com:8443", "http://plain.example.com",
		"https://wiki.example.com", "https://*.evil.example", "not a url")
	doc, err := ChromePolicy(id)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ AutoSelectCertificateForUrls []string }
	if err := json.Unmarshal(doc, &p); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"pattern":"https://portier.example.com:8443","filter":{"ISSUER":{"CN":"Portier Intermediate CA","O":"Test Org"}}}`,
		`{"pattern":"https://wiki.example.com","filter":{"ISSUER":{"CN":"Portier Intermediate CA","O":"Test Org"}}}`,
	}
	if !slices.Equal(p.AutoSelectCertificateForUrls, want) {
		t.Errorf("policy:\n%s\nwant rules %q", doc, want)
	}
	id.Origins = []string{"http://only.plain"}
	if _, err := ChromePolicy(id); err == nil {
		t.Error("a policy without any https origin was written")
	}
	// The file is named after the device and written, then removed.
	dir := filepath.Join(t.TempDir(), "policies", "managed")
	s := &ChromePolicyStore{Dirs: []string{dir}}
	old := syscall.Umask(0o077) // as under the systemd unit
	defer syscall.Umask(old)
	id.Origins = []string{"https://wiki.example.com"}
	ps, err := s.Install(context.Background(), id)
	if err != nil || len(ps) != 1 || ps[0].Path != filepath.Join(dir, "portier-dev_0123456789abcdef.json") {
		t.Fatalf("install = %+v, %v", ps, err)
	}
	if fi, err := os.Stat(ps[0].Path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("policy file: %v %v", fi, err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("policy directory %s: %v %v, want 0755 so browsers run by people can read it", d, fi.Mode(), err)
		}
	}
	must(t, s.Remove(context.Background(), ps[0]))
	if _, err := os.Stat(ps[0].Path); !os.IsNotExist(err) {
		t.Errorf("policy file still there: %v", err)
	}
	id.DeviceID = "../../etc/x"
	if _, err := s.Install(context.Background(), id); err == nil {
		t.Error("a device id with a path was used as a file name")
	}
}

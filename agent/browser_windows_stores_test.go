package agent

import (
	"context"
	"crypto/ecdsa"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

var psQuoted = regexp.MustCompile(`'((?:[^']|'')*)'`)

// TestWindowsCertStore: the person's agent imports a non-exportable key
// into Cert:\CurrentUser\My with the password read from a file (never on
// a command line), checks it is there, and removes certificate, key and
// intermediate again.
func TestWindowsCertStore(t *testing.T) {
	ti := newTestIdentity(t)
	home := t.TempDir()
	id := ti.issue(t, 100, home, "https://portier.example.com")
	thumb, caThumb := Thumbprint(id.Leaf), Thumbprint(ti.ca)
	tmp := t.TempDir() + "/it's here" // a quote in the path must stay a path
	must(t, os.MkdirAll(tmp, 0o700))
	present := false
	rec := &cmdRecorder{}
	rec.answer = func(c Command) ([]byte, error) {
		script := c.Args[len(c.Args)-1]
		if strings.Contains(script, "Import-PfxCertificate") {
			var paths []string
			for _, m := range psQuoted.FindAllStringSubmatch(script, -1) {
				paths = append(paths, strings.ReplaceAll(m[1], "''", "'"))
			}
			paths = paths[1:] // after $ErrorActionPreference='Stop'
			pw, err := os.ReadFile(paths[0])
			if err != nil {
				t.Fatalf("password file %q: %v", paths[0], err)
			}
			if strings.Contains(script, string(pw)) {
				t.Error("the password is on the command line")
			}
			b, err := os.ReadFile(paths[1])
			if err != nil {
				t.Fatalf("PFX %q: %v", paths[1], err)
			}
			key, leaf, cas, err := pkcs12.DecodeChain(b, string(pw))
			if err != nil || !leaf.Equal(id.Leaf) || len(cas) != 1 || !key.(*ecdsa.PrivateKey).Equal(ti.key) {
				t.Errorf("PFX does not hold the identity: %v", err)
			}
			present = true
			return []byte("True\r\n"), nil
		}
		if strings.Contains(script, "Remove-Item") {
			present = false
		}
		if present {
			return []byte("True\r\n"), nil
		}
		return []byte("False\r\n"), nil
	}
	s := &WindowsCertStore{Run: rec.run, TempDir: tmp}
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if len(rec.cmds) != 1 {
		t.Fatalf("commands = %v", rec.lines())
	}
	c := rec.cmds[0]
	if c.Path != "powershell.exe" || !slices.Equal(c.Args[:5], []string{"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"}) || c.User != nil {
		t.Fatalf("command = %s", c)
	}
	script := c.Args[5]
	if !strings.Contains(script, `-CertStoreLocation Cert:\CurrentUser\My -Password $pw`) || strings.Contains(script, "Exportable") ||
		!strings.HasSuffix(script, `Test-Path -LiteralPath 'Cert:\CurrentUser\My\`+thumb+`'`) {
		t.Fatalf("script = %s", script)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
	p := ps[0]
	if len(ps) != 1 || p.Store != "windows-cert" || p.Path != `Cert:\CurrentUser\My` || p.Thumbprint != thumb || !slices.Equal(p.CAThumbprints, []string{caThumb}) || !p.AsAgent {
		t.Fatalf("placement = %+v", ps)
	}

	rec.cmds = nil
	if err := s.Remove(context.Background(), p); err != nil {
		t.Fatalf("remove: %v", err)
	}
	want := "$ErrorActionPreference='Stop'; " +
		`if (Test-Path -LiteralPath 'Cert:\CurrentUser\My\` + thumb + `') { Remove-Item -LiteralPath 'Cert:\CurrentUser\My\` + thumb + `' -DeleteKey }; ` +
		`foreach ($c in @('Cert:\CurrentUser\CA\` + caThumb + `','Cert:\CurrentUser\My\` + caThumb + `')) { if (Test-Path -LiteralPath $c) { Remove-Item -LiteralPath $c } }; ` +
		`Test-Path -LiteralPath 'Cert:\CurrentUser\My\` + thumb + `'`
	if len(rec.cmds) != 1 || rec.cmds[0].Args[5] != want {
		t.Fatalf("remove script:\n%v\nwant:\n%s", rec.lines(), want)
	}
	// Still there afterwards: an error.
	rec.answer = func(Command) ([]byte, error) { return []byte("True\r\n"), nil }
	if err := s.Remove(context.Background(), p); err == nil {
		t.Fatal("a certificate still in the store after removal gave no error")
	}
}

// TestWindowsCertStoreRefusesOthers: a service cannot write a person's
// CurrentUser store, and SYSTEM's own store helps no browser.
func TestWindowsCertStoreRefusesOthers(t *testing.T) {
	ti := newTestIdentity(t)
	for _, u := range []LocalUser{
		{Name: "alice", Home: `C:\Users\alice`},
		{Name: "SYSTEM", Home: `C:\WINDOWS\system32\config\systemprofile`, AsAgent: true},
		{Name: "NetworkService", Home: `C:\Windows\ServiceProfiles\NetworkService`, AsAgent: true},
	} {
		id := ti.issue(t, 1, u.Home, "https://portier.example.com")
		id.Users = []LocalUser{u}
		rec := &cmdRecorder{}
		if _, err := (&WindowsCertStore{Run: rec.run}).Install(context.Background(), id); err == nil || len(rec.cmds) != 0 {
			t.Fatalf("%s: err %v, commands %v", u.Name, err, rec.lines())
		}
	}
}

// TestWindowsCertStoreRemoveInjection: browser.json is data; a
// thumbprint in it that would break out of the PowerShell string is
// refused before anything runs.
func TestWindowsCertStoreRemoveInjection(t *testing.T) {
	for _, p := range []Placement{
		{Store: StoreWindowsCert, AsAgent: true, Path: windowsCertPath, Thumbprint: `x'; Remove-Item -Recurse C:\Users; '`},
		{Store: StoreWindowsCert, AsAgent: true, Path: windowsCertPath, Thumbprint: strings.Repeat("A", 40), CAThumbprints: []string{`'); iex 'calc`}},
	} {
		rec := &cmdRecorder{answer: func(Command) ([]byte, error) { return []byte("False"), nil }}
		err := (&WindowsCertStore{Run: rec.run}).Remove(context.Background(), p)
		for _, c := range rec.cmds {
			if strings.Contains(c.Args[len(c.Args)-1], "Recurse") || strings.Contains(c.Args[len(c.Args)-1], "iex") {
				t.Fatalf("injected script ran: %s (err %v)", c, err)
			}
		}
		if p.Thumbprint != strings.Repeat("A", 40) && err == nil {
			t.Fatal("a malformed thumbprint was accepted")
		}
	}
}

// TestWindowsPolicyStore: Portier's rules are added after the values an
// administrator set (which stay), and only Portier's are deleted.
func TestWindowsPolicyStore(t *testing.T) {
	ti := newTestIdentity(t)
	id := ti.issue(t, 5, "", "https://wiki.example.com", "https://portier.example.com")
	existing, err := os.ReadFile("testdata/windows/reg-query-autoselect.txt")
	if err != nil {
		t.Fatal(err)
	}
	chrome, edge := WindowsPolicyKeys[0], WindowsPolicyKeys[1]
	rec := &cmdRecorder{answer: func(c Command) ([]byte, error) {
		if c.Args[0] == "query" && c.Args[1] == chrome {
			return existing, nil
		}
		if c.Args[0] == "query" {
			return []byte("ERROR: The system was unable to find the specified registry key or value.\r\n"), exitError("exit status 1")
		}
		return []byte("The operation completed successfully.\r\n"), nil
	}}
	s := &WindowsPolicyStore{Run: rec.run}
	ps, err := s.Install(context.Background(), id)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	rules, _ := AutoSelectRules(id)
	if !strings.HasPrefix(rules[0], `{"pattern":"https://portier.example.com","filter":{"ISSUER":{"CN":"Portier Intermediate CA","O":"Test Org"}}}`) {
		t.Fatalf("rule = %s", rules[0])
	}
	want := []string{
		"reg.exe query " + chrome,
		"reg.exe add " + chrome + " /v 3 /t REG_SZ /d " + rules[0] + " /f",
		"reg.exe add " + chrome + " /v 4 /t REG_SZ /d " + rules[1] + " /f",
		"reg.exe query " + edge,
		"reg.exe add " + edge + " /v 1 /t REG_SZ /d " + rules[0] + " /f",
		"reg.exe add " + edge + " /v 2 /t REG_SZ /d " + rules[1] + " /f",
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ps) != 2 || ps[0].Path != chrome || !slices.Equal(ps[0].Entries, []string{"3", "4"}) || !slices.Equal(ps[1].Entries, []string{"1", "2"}) {
		t.Fatalf("placements = %+v", ps)
	}
	rec.cmds = nil
	for _, p := range ps {
		if err := s.Remove(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	want = []string{"reg.exe delete " + chrome + " /v 3 /f", "reg.exe delete " + chrome + " /v 4 /f",
		"reg.exe delete " + edge + " /v 1 /f", "reg.exe delete " + edge + " /v 2 /f"}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Fatalf("remove commands %v, want %v", got, want)
	}
}

// TestWindowsPolicyStoreRemoveOnlyOwnValues: a tampered browser.json
// cannot make the agent (an administrator) delete other registry keys or
// values that are not list entries.
func TestWindowsPolicyStoreRemoveOnlyOwnValues(t *testing.T) {
	for _, p := range []Placement{
		{Store: StoreWindowsPolicy, Path: `HKLM\SYSTEM\CurrentControlSet\Services\PortierAgent`, Entries: []string{"1"}},
		{Store: StoreWindowsPolicy, Path: WindowsPolicyKeys[0], Entries: []string{"ImagePath"}},
		{Store: StoreWindowsPolicy, Path: WindowsPolicyKeys[0], Entries: []string{"/va"}},
	} {
		rec := &cmdRecorder{}
		if err := (&WindowsPolicyStore{Run: rec.run}).Remove(context.Background(), p); err == nil || len(rec.cmds) != 0 {
			t.Fatalf("%+v: err %v, commands %v", p, err, rec.lines())
		}
	}
}

func TestParseRegQuery(t *testing.T) {
	b, err := os.ReadFile("testdata/windows/reg-query-autoselect.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := ParseRegQuery(b)
	want := []RegValue{
		{"1", "REG_SZ", `{"pattern":"https://intranet.example.com","filter":{"ISSUER":{"CN":"Corp CA"}}}`},
		{"2", "REG_SZ", `{"pattern":"https://hr.example.com","filter":{}}`},
		{"comment", "REG_SZ", "not a list entry"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("values = %q, want %q", got, want)
	}
}

func FuzzParseRegQuery(f *testing.F) {
	b, _ := os.ReadFile("testdata/windows/reg-query-autoselect.txt")
	f.Add(b)
	f.Add([]byte("    a    REG_    \n    REG_SZ    x"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, v := range ParseRegQuery(in) {
			if !strings.HasPrefix(v.Type, "REG_") || len(v.Type) == 4 {
				t.Fatalf("value %+v", v)
			}
		}
	})
}

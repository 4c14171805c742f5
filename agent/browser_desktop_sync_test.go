package agent

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// fakeWindows answers reg.exe and PowerShell like a Windows machine whose
// registry and CurrentUser\My store are the maps.
type fakeWindows struct {
	reg   map[string]map[string]string // key -> value name -> data
	certs map[string]bool              // thumbprints in Cert:\CurrentUser\My
}

var thumbInScript = regexp.MustCompile(`My\\([0-9A-F]{40})'`)

func (w *fakeWindows) run(_ context.Context, c Command) ([]byte, error) {
	if c.Path == "reg.exe" {
		key := c.Args[1]
		switch c.Args[0] {
		case "query":
			vals, ok := w.reg[key]
			if !ok {
				return []byte("ERROR: The system was unable to find the specified registry key or value.\r\n"), exitError("exit status 1")
			}
			out := "\r\n" + key + "\r\n"
			names := make([]string, 0, len(vals))
			for n := range vals {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				out += "    " + n + "    REG_SZ    " + vals[n] + "\r\n"
			}
			return []byte(out), nil
		case "add":
			if w.reg[key] == nil {
				w.reg[key] = map[string]string{}
			}
			w.reg[key][c.Args[3]] = c.Args[7]
		case "delete":
			delete(w.reg[key], c.Args[3])
		}
		return []byte("The operation completed successfully.\r\n"), nil
	}
	script := c.Args[len(c.Args)-1]
	m := thumbInScript.FindStringSubmatch(script)
	if m == nil {
		return nil, fmt.Errorf("unexpected script %s", script)
	}
	switch {
	case strings.Contains(script, "Import-PfxCertificate"):
		w.certs[m[1]] = true
	case strings.Contains(script, "Remove-Item"):
		delete(w.certs, m[1])
	}
	if w.certs[m[1]] {
		return []byte("True\r\n"), nil
	}
	return []byte("False\r\n"), nil
}

// TestWindowsStoresFollowTheAgent: a person's agent installs the identity
// and the policy at its first cycle, replaces them after a renewal (the
// administrator's own policy values stay), and removes everything it
// wrote on unenroll, from what browser.json recorded.
func TestWindowsStoresFollowTheAgent(t *testing.T) {
	s := newServer(t, enrollment.Config{})
	a, dir := enrolled(t, s, store.OwnershipCorporate, &fakeRunner{}, &fakeCollect{}, nil)
	a.Close()
	chrome := WindowsPolicyKeys[0]
	win := &fakeWindows{reg: map[string]map[string]string{chrome: {"1": "admin rule"}}, certs: map[string]bool{}}
	home := t.TempDir()
	bo := &BrowserOptions{Stores: []BrowserStore{&WindowsPolicyStore{Run: win.run}, &WindowsCertStore{Run: win.run}},
		Users: func() ([]LocalUser, error) { return []LocalUser{HomeUser(home)}, nil }}
	a, err := Open(Options{StateDir: dir, Version: "test", Platform: PlatformWindows, Runner: &fakeRunner{}, Collect: (&fakeCollect{}).collect, Browser: bo})
	must(t, err)
	defer a.Close()
	ctx := context.Background()
	must(t, a.Once(ctx))
	if len(win.certs) != 1 || len(win.reg[chrome]) != 2 || win.reg[chrome]["1"] != "admin rule" || !strings.Contains(win.reg[chrome]["2"], `"pattern":"https://`) {
		t.Fatalf("after the first cycle: certs %v, registry %v", win.certs, win.reg)
	}
	first := maps1(win.certs)
	must(t, a.Renew(ctx))
	if len(win.certs) != 1 || maps1(win.certs) == first || len(win.reg[chrome]) != 2 || win.reg[chrome]["1"] != "admin rule" {
		t.Fatalf("after renewal: certs %v (before %s), registry %v", win.certs, first, win.reg)
	}
	removed, err := RemoveBrowserIdentity(ctx, dir, *bo)
	must(t, err)
	if len(removed) != 3 || len(win.certs) != 0 || !slices.Equal(keys(win.reg[chrome]), []string{"1"}) || len(win.reg[WindowsPolicyKeys[1]]) != 0 {
		t.Fatalf("after removal: removed %d, certs %v, registry %v", len(removed), win.certs, win.reg)
	}
}

func maps1(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package agent

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// StoreWindowsPolicy is the store name of the Chrome and Edge machine
// policies in the Windows registry.
const StoreWindowsPolicy = "windows-policy"

// WindowsPolicyKeys are the registry keys of the AutoSelectCertificateForUrls
// machine policy of Google Chrome and Microsoft Edge: a list policy, one
// REG_SZ value per entry, named 1, 2, 3, ...
var WindowsPolicyKeys = []string{
	`HKLM\SOFTWARE\Policies\Google\Chrome\AutoSelectCertificateForUrls`,
	`HKLM\SOFTWARE\Policies\Microsoft\Edge\AutoSelectCertificateForUrls`,
}

// WindowsPolicyStore writes Portier's AutoSelectCertificateForUrls rules
// (see AutoSelectRules) into the registry with reg.exe, which needs an
// administrator or LocalSystem. Entries someone else wrote are kept:
// Portier's values are numbered after the highest existing one, and only
// the value names it wrote (recorded in the placement) are deleted.
type WindowsPolicyStore struct {
	// Run runs reg.exe.
	Run CommandRunner
	// Reg is the tool (default reg.exe); Keys the policy keys (default
	// WindowsPolicyKeys).
	Reg  string
	Keys []string
}

var _ BrowserStore = (*WindowsPolicyStore)(nil)

// Name is "windows-policy".
func (s *WindowsPolicyStore) Name() string { return StoreWindowsPolicy }

func (s *WindowsPolicyStore) reg(args ...string) Command {
	return Command{Path: orDefaultString(s.Reg, "reg.exe"), Args: args}
}

func (s *WindowsPolicyStore) keys() []string {
	if s.Keys == nil {
		return WindowsPolicyKeys
	}
	return s.Keys
}

// regNotFound reports whether reg.exe's output says the key or value is
// missing.
func regNotFound(out []byte) bool {
	return strings.Contains(string(out), "unable to find the specified registry key or value")
}

// RegValue is one value of `reg query` output.
type RegValue struct {
	Name, Type, Data string
}

// ParseRegQuery reads the values of `reg query KEY` output: after the
// key's line, each value is indented by four spaces and its name, type
// (REG_...) and data are separated by four spaces. Subkey lines and
// anything else are skipped.
func ParseRegQuery(out []byte) []RegValue {
	var vals []RegValue
	for _, line := range strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "    ")
		if !ok {
			continue
		}
		name, after, ok := strings.Cut(rest, "    REG_")
		if !ok {
			continue
		}
		typ, data, _ := strings.Cut(after, "    ")
		if typ == "" || strings.ContainsAny(typ, " \t") {
			continue
		}
		vals = append(vals, RegValue{Name: name, Type: "REG_" + typ, Data: data})
	}
	return vals
}

// Install adds one value per rule to every key, after the highest
// numbered value already there.
func (s *WindowsPolicyStore) Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error) {
	rules, err := AutoSelectRules(id)
	if err != nil {
		return nil, err
	}
	var out []Placement
	for _, key := range s.keys() {
		p := Placement{Store: s.Name(), Path: key, Serial: id.Leaf.SerialNumber.String()}
		qout, err := s.Run(ctx, s.reg("query", key))
		if err != nil && !regNotFound(qout) {
			return out, fmt.Errorf("agent: reg query %s: %w: %s", key, err, trimOut(qout))
		}
		next := 1
		if err == nil {
			for _, v := range ParseRegQuery(qout) {
				if n, err := strconv.Atoi(v.Name); err == nil && n >= next {
					next = n + 1
				}
			}
		}
		for i, rule := range rules {
			name := strconv.Itoa(next + i)
			if aout, err := s.Run(ctx, s.reg("add", key, "/v", name, "/t", "REG_SZ", "/d", rule, "/f")); err != nil {
				out = append(out, p)
				return out, fmt.Errorf("agent: reg add %s /v %s: %w: %s", key, name, err, trimOut(aout))
			}
			p.Entries = append(p.Entries, name)
		}
		out = append(out, p)
	}
	return out, nil
}

// Remove deletes the values the placement records; values already gone
// are fine.
func (s *WindowsPolicyStore) Remove(ctx context.Context, p Placement) error {
	if !slices.Contains(s.keys(), p.Path) {
		return fmt.Errorf("agent: %s is not a policy key of this agent", p.Path)
	}
	for _, name := range p.Entries {
		if n, err := strconv.Atoi(name); err != nil || n < 1 {
			return fmt.Errorf("agent: %q is not a policy value name", name)
		}
		if out, err := s.Run(ctx, s.reg("delete", p.Path, "/v", name, "/f")); err != nil && !regNotFound(out) {
			return fmt.Errorf("agent: reg delete %s /v %s: %w: %s", p.Path, name, err, trimOut(out))
		}
	}
	return nil
}

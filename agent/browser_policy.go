package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// StoreChromePolicy is the store name of the Chromium-family managed
// policy files.
const StoreChromePolicy = "chromium-policy"

// LinuxChromePolicyDirs are where Chromium, Google Chrome and Microsoft
// Edge read machine-wide managed policies on Linux.
var LinuxChromePolicyDirs = []string{
	"/etc/chromium/policies/managed",
	"/etc/opt/chrome/policies/managed",
	"/etc/opt/edge/policies/managed",
}

// ChromePolicyStore writes a managed-policy JSON file with
// AutoSelectCertificateForUrls into each policy directory: for each of
// Portier's origins, and only for certificates issued by Portier's
// issuing CA, the browser presents the device certificate without asking.
// The file is portier-<device id>.json, so it never touches a policy
// file someone else wrote.
type ChromePolicyStore struct {
	Dirs []string
}

var _ BrowserStore = (*ChromePolicyStore)(nil)

// Name is "chromium-policy".
func (s *ChromePolicyStore) Name() string { return StoreChromePolicy }

// autoSelectRule is one AutoSelectCertificateForUrls entry (each entry is
// itself a JSON string in the policy).
type autoSelectRule struct {
	Pattern string `json:"pattern"`
	Filter  struct {
		Issuer map[string]string `json:"ISSUER"`
	} `json:"filter"`
}

// ChromePolicy returns the managed-policy document for id: one rule per
// origin, filtered on the issuer's common name and organization.
func ChromePolicy(id *BrowserIdentity) ([]byte, error) {
	rules, err := AutoSelectRules(id)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(map[string][]string{"AutoSelectCertificateForUrls": rules}, "", "  ")
}

// AutoSelectRules are the AutoSelectCertificateForUrls entries for id,
// each a JSON string: one per origin, selecting only a certificate issued
// by the device certificate's issuer (common name and organization).
func AutoSelectRules(id *BrowserIdentity) ([]string, error) {
	issuer := map[string]string{"CN": id.Leaf.Issuer.CommonName}
	if len(id.Leaf.Issuer.Organization) > 0 {
		issuer["O"] = id.Leaf.Issuer.Organization[0]
	}
	if issuer["CN"] == "" {
		return nil, errors.New("agent: the device certificate's issuer has no common name to select it by")
	}
	origins := Origins(id.Origins)
	if len(origins) == 0 {
		return nil, errors.New("agent: the server named no https origin to select the device certificate for")
	}
	rules := []string{}
	for _, o := range origins {
		var r autoSelectRule
		r.Pattern, r.Filter.Issuer = o, issuer
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		rules = append(rules, string(b))
	}
	return rules, nil
}

// policyFileName is the policy file of a device.
func policyFileName(deviceID string) (string, error) {
	if deviceID == "" || len(deviceID) > 128 {
		return "", errors.New("agent: no device id for the policy file name")
	}
	for _, r := range deviceID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", fmt.Errorf("agent: device id %q cannot name a file", deviceID)
		}
	}
	return "portier-" + deviceID + ".json", nil
}

// Install writes the policy file into every directory (created 0755 when
// missing), each 0644.
func (s *ChromePolicyStore) Install(_ context.Context, id *BrowserIdentity) ([]Placement, error) {
	doc, err := ChromePolicy(id)
	if err != nil {
		return nil, err
	}
	name, err := policyFileName(id.DeviceID)
	if err != nil {
		return nil, err
	}
	var out []Placement
	for _, dir := range s.Dirs {
		p := Placement{Store: s.Name(), Path: filepath.Join(dir, name), Serial: id.Leaf.SerialNumber.String()}
		if err := mkdirReadable(dir); err != nil {
			return out, fmt.Errorf("agent: create %s: %w", dir, err)
		}
		out = append(out, p)
		if err := writeFileAtomic(p.Path, append(doc, '\n'), 0o644); err != nil {
			return out, fmt.Errorf("agent: write %s: %w", p.Path, err)
		}
	}
	return out, nil
}

// Remove deletes the policy file.
func (s *ChromePolicyStore) Remove(_ context.Context, p Placement) error {
	if err := os.Remove(p.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("agent: remove %s: %w", p.Path, err)
	}
	return nil
}

// mkdirReadable creates dir and its missing parents 0755 whatever the
// agent's umask (the service runs with 0077, and browsers run as people):
// directories that exist are left as they are.
func mkdirReadable(dir string) error {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirReadable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o755)
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// StoreWindowsCert is the store name of a person's Windows certificate
// store.
const StoreWindowsCert = "windows-cert"

// WindowsCertStore imports the device identity into Cert:\CurrentUser\My
// of the person the agent runs as, with PowerShell's
// Import-PfxCertificate and without -Exportable, so the key is marked
// non-exportable: Chrome and Edge find it there. A LocalSystem service cannot reach a person's
// CurrentUser store, so the store refuses to run for anyone but the
// agent's own user, and never for the SYSTEM profile. The key is a
// software key in the Microsoft Software Key Storage Provider: the
// agent's CSR is made in Go, not by CNG, so no TPM protects it.
type WindowsCertStore struct {
	// Run runs powershell.exe.
	Run CommandRunner
	// PowerShell is the tool (default powershell.exe).
	PowerShell string
	// TempDir holds the short-lived PFX file (default os.TempDir()).
	TempDir string
}

var _ BrowserStore = (*WindowsCertStore)(nil)

// Name is "windows-cert".
func (s *WindowsCertStore) Name() string { return StoreWindowsCert }

// windowsCertPath is the PowerShell path of the person's personal store.
const windowsCertPath = `Cert:\CurrentUser\My`

// windowsCAPath is where Import-PfxCertificate may put the intermediates.
const windowsCAPath = `Cert:\CurrentUser\CA`

// IsSystemProfile reports whether home is the profile of LocalSystem
// (or another service account), whose CurrentUser store no person uses.
func IsSystemProfile(home string) bool {
	h := strings.ToLower(strings.ReplaceAll(home, "/", `\`))
	return strings.Contains(h, `\system32\config\systemprofile`) || strings.Contains(h, `\serviceprofiles\`)
}

// psQuote makes s a PowerShell single-quoted string.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (s *WindowsCertStore) ps(script string) Command {
	return Command{Path: orDefaultString(s.PowerShell, "powershell.exe"),
		Args: []string{"-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", script}}
}

// Install imports the identity for the agent's own user.
func (s *WindowsCertStore) Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error) {
	if len(id.Users) == 0 {
		return nil, errNoUsers
	}
	var out []Placement
	for _, u := range id.Users {
		if !u.AsAgent {
			return out, fmt.Errorf("agent: the Windows store of %s can only be written by a process running as %s", u.Name, u.Name)
		}
		if IsSystemProfile(u.Home) {
			return out, errors.New("agent: running as a service account: no person's certificate store to install into")
		}
		p := Placement{Store: s.Name(), User: u.Name, Home: u.Home, AsAgent: true, Path: windowsCertPath,
			Serial: id.Leaf.SerialNumber.String(), Thumbprint: Thumbprint(id.Leaf)}
		for _, c := range id.Intermediates {
			p.CAThumbprints = append(p.CAThumbprints, Thumbprint(c))
		}
		err := s.importPFX(ctx, id, p.Thumbprint)
		out = append(out, p)
		if err != nil {
			return out, fmt.Errorf("agent: install the device identity for %s in %s: %w", u.Name, p.Path, err)
		}
	}
	return out, nil
}

func (s *WindowsCertStore) importPFX(ctx context.Context, id *BrowserIdentity, thumb string) error {
	password, pfx, err := encodeLegacyP12(id)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.TempDir, "portier-pfx-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pfxPath, pwPath := filepath.Join(dir, "identity.pfx"), filepath.Join(dir, "password")
	if err := os.WriteFile(pfxPath, pfx, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pwPath, []byte(password), 0o600); err != nil {
		return err
	}
	return s.importFiles(ctx, pfxPath, pwPath, thumb)
}

// importFiles imports a PFX file, whose password is in another file,
// into the person's store and checks the certificate thumb is there.
func (s *WindowsCertStore) importFiles(ctx context.Context, pfxPath, pwPath, thumb string) error {
	// The password is read from the file, so it never is on a command line.
	script := "$ErrorActionPreference='Stop'; " +
		"$pw = ConvertTo-SecureString -String (Get-Content -LiteralPath " + psQuote(pwPath) + " -Raw) -AsPlainText -Force; " +
		"Import-PfxCertificate -FilePath " + psQuote(pfxPath) + " -CertStoreLocation " + windowsCertPath + " -Password $pw | Out-Null; " +
		"Test-Path -LiteralPath " + psQuote(windowsCertPath+`\`+thumb)
	out, err := s.Run(ctx, s.ps(script))
	if err != nil {
		return fmt.Errorf("Import-PfxCertificate: %w: %s", err, trimOut(out))
	}
	if lastLine(out) != "True" {
		return fmt.Errorf("the certificate is not in %s after the import: %s", windowsCertPath, trimOut(out))
	}
	return nil
}

// Remove deletes the device certificate with its key, and the
// intermediates imported with it, and checks the certificate is gone.
func (s *WindowsCertStore) Remove(ctx context.Context, p Placement) error {
	if !validThumbprint(p.Thumbprint) {
		return fmt.Errorf("agent: the placement %s has no certificate hash", p.Path)
	}
	if !p.AsAgent || IsSystemProfile(p.Home) {
		return fmt.Errorf("agent: the Windows store of %s can only be cleaned by a process running as %s", p.User, p.User)
	}
	leaf := psQuote(windowsCertPath + `\` + p.Thumbprint)
	var cas []string
	for _, t := range p.CAThumbprints {
		if validThumbprint(t) {
			cas = append(cas, psQuote(windowsCAPath+`\`+t), psQuote(windowsCertPath+`\`+t))
		}
	}
	script := "$ErrorActionPreference='Stop'; " +
		"if (Test-Path -LiteralPath " + leaf + ") { Remove-Item -LiteralPath " + leaf + " -DeleteKey }; "
	if len(cas) > 0 {
		script += "foreach ($c in @(" + strings.Join(cas, ",") + ")) { if (Test-Path -LiteralPath $c) { Remove-Item -LiteralPath $c } }; "
	}
	script += "Test-Path -LiteralPath " + leaf
	out, err := s.Run(ctx, s.ps(script))
	if err != nil {
		return fmt.Errorf("agent: remove the device identity from %s: %w: %s", p.Path, err, trimOut(out))
	}
	if lastLine(out) != "False" {
		return fmt.Errorf("agent: the device certificate %s is still in %s", p.Thumbprint, p.Path)
	}
	return nil
}

// lastLine is the last non-empty line of a tool's output.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(out), "\r\n", "\n")), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

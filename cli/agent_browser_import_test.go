package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agent"
)

// TestAgentBrowserImport: the logon task's command needs --dir; with
// nothing waiting there it does nothing and records that it ran; a damaged
// removal order fails the run (exit 1), is named, and stays for the
// service to replace.
func TestAgentBrowserImport(t *testing.T) {
	if c, _, errs := run(t, nil, "agent", "browser-import"); c != 2 || !strings.Contains(errs, "--dir is required") {
		t.Errorf("without --dir: %d %s", c, errs)
	}
	dir := t.TempDir()
	if c, out, errs := run(t, nil, "agent", "browser-import", "--dir", dir); c != 0 || out != "" {
		t.Fatalf("nothing waiting: %d %q %s", c, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "imported.json"))
	if err != nil || strings.TrimSpace(string(b)) != "{}" {
		t.Errorf("imported.json = %s, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "remove.json"), []byte("[not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _, errs := run(t, nil, "agent", "browser-import", "--dir", dir); c != 1 || !strings.Contains(errs, "removal order is damaged") {
		t.Errorf("damaged order: %d %s", c, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "remove.json")); err != nil {
		t.Errorf("the damaged order was dropped: %v", err)
	}
	var rec struct{ Errors []string }
	b, _ = os.ReadFile(filepath.Join(dir, "imported.json"))
	if err := json.Unmarshal(b, &rec); err != nil || len(rec.Errors) != 1 {
		t.Errorf("imported.json after the damaged order = %s", b)
	}
}

// TestDescribeUserImport: status says, per person, where the certificate
// and its key are (store, provider, hardware or software) or what they
// wait for.
func TestDescribeUserImport(t *testing.T) {
	renew := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		u    agent.UserImportStatus
		want string
	}{
		{agent.UserImportStatus{Imported: true, Thumbprint: "AB", Store: `Cert:\CurrentUser\My`, Provider: agent.ProviderPlatform, KeyProtection: "hardware", RenewAfter: renew},
			`certificate AB in Cert:\CurrentUser\My, hardware key (TPM) in the Microsoft Platform Crypto Provider, not exportable, renewed after 2026-12-08T10:00:00Z`},
		{agent.UserImportStatus{Imported: true, Thumbprint: "CD", Store: `Cert:\CurrentUser\My`, Provider: agent.ProviderSoftware, KeyProtection: "software", PlatformError: "no TPM", Waiting: "certificate"},
			`certificate CD in Cert:\CurrentUser\My, software key in the Microsoft Software Key Storage Provider, not exportable (the TPM could not make the key: no TPM); its renewal waits for the certificate`},
		{agent.UserImportStatus{Waiting: "logon"}, "waiting for the person's logon to make their key"},
		{agent.UserImportStatus{Waiting: "install"}, "the certificate for the person's key is issued; it is installed when their task runs next (at logon)"},
		{agent.UserImportStatus{Imported: true, Thumbprint: "EF"}, `certificate EF imported into Cert:\CurrentUser\My (the device's own identity, software key)`},
	} {
		if got := describeUserImport(c.u); got != c.want {
			t.Errorf("describeUserImport(%+v)\n got %s\nwant %s", c.u, got, c.want)
		}
	}
}

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

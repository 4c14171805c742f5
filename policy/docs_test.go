package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsExamples parses every YAML example in docs/policies.md, so the
// guide never shows a policy that lint would refuse.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "policies.md"))
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) < 15 {
		t.Fatalf("only %d yaml examples found", len(blocks))
	}
	indent := func(s, by string) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		for i := range lines {
			lines[i] = by + lines[i]
		}
		return strings.Join(lines, "\n") + "\n"
	}
	for i, b := range blocks {
		b = b[:strings.Index(b, "```")]
		if strings.Contains(b, "# wrong") {
			continue
		}
		var doc string
		switch first := strings.TrimSpace(b); {
		case strings.HasPrefix(first, "routes:") || strings.HasPrefix(first, "policies:"):
			doc = b
		case strings.HasPrefix(first, "- id:") || strings.HasPrefix(first, "# for the whole policy"):
			doc = "policies:\n" + indent(b, "  ")
		case strings.HasPrefix(first, "allow:") || strings.HasPrefix(first, "deny:"):
			doc = "policies:\n  - id: example\n" + indent(b, "    ")
		case strings.HasPrefix(first, "- "):
			doc = "policies:\n  - id: example\n    allow:\n      and:\n" + indent(b, "        ")
		default:
			t.Errorf("example %d: cannot tell what it is:\n%s", i, b)
			continue
		}
		if _, err := Parse("policies.md", []byte(doc)); err != nil {
			t.Errorf("example %d does not parse: %v\n%s", i, err, doc)
		}
	}
}

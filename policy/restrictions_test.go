package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEveryRestrictionNameParses checks that each restriction named in
// INTERFACE.md parses in a policy file, keeps its own bit, and survives
// the JSON the API and the decision log write.
func TestEveryRestrictionNameParses(t *testing.T) {
	names := []string{"read_only", "block_downloads", "block_uploads", "no_store", "watermark", "block_clipboard", "block_print"}
	pols, err := Parse("r.yaml", []byte("policies:\n  - id: byod\n    allow: [{group: staff}]\n    restrictions: ["+strings.Join(names, ", ")+"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := pols[0].Evaluate(&Input{Authenticated: true, Groups: []string{"staff"}, Now: testNow})
	if d.Outcome != AllowRestricted || d.Restrictions.Count() != len(names) {
		t.Fatalf("decision = %v %v, want all %d restrictions", d.Outcome, d.Restrictions, len(names))
	}
	if got := strings.Join(d.Restrictions.Names(), " "); got != strings.Join(names, " ") {
		t.Errorf("names = %q", got)
	}
	for _, n := range names {
		r, err := ParseRestriction(n)
		if err != nil || r.Count() != 1 || !d.Restrictions.Has(r) {
			t.Errorf("ParseRestriction(%q) = %v, %v", n, r, err)
		}
	}
	b, _ := json.Marshal(d.Restrictions)
	var back Restrictions
	if err := json.Unmarshal(b, &back); err != nil || back != d.Restrictions {
		t.Errorf("JSON round trip %s = %v, %v", b, back, err)
	}
	if _, err := ParseRestriction("block_screenshots"); err == nil || !strings.Contains(err.Error(), "block_print") {
		t.Errorf("unknown name error = %v", err)
	}
}

package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestEnforceForParses(t *testing.T) {
	ps := mustParse(t, `
  - id: finance
    mode: report-only
    enforce_for:
      rollout: mdm-2027
      waves: [pilot, sales]
    allow: {group: finance}
  - id: one
    mode: report-only
    enforce_for: {rollout: mdm-2027, waves: pilot}
    allow: {group: finance}
`)
	p := ps["finance"]
	if p.EnforceFor == nil || p.EnforceFor.Rollout != "mdm-2027" || !slices.Equal(p.EnforceFor.Waves, []string{"pilot", "sales"}) {
		t.Fatalf("enforce_for = %+v", p.EnforceFor)
	}
	if got := p.EnforceFor.Keys(); !slices.Equal(got, []string{"mdm-2027/pilot", "mdm-2027/sales"}) {
		t.Errorf("keys = %v", got)
	}
	if !ps["one"].EnforcedFor([]string{"other/pilot", "mdm-2027/pilot"}) {
		t.Error("a single wave written as a scalar is not enforced for its people")
	}
	for _, tc := range []struct {
		waves []string
		want  bool
	}{
		{nil, false},
		{[]string{"mdm-2027/rest"}, false},
		{[]string{"other-plan/pilot"}, false},
		{[]string{"other-plan/x", "mdm-2027/sales"}, true},
	} {
		if got := p.EnforcedFor(tc.waves); got != tc.want {
			t.Errorf("EnforcedFor(%v) = %v, want %v", tc.waves, got, tc.want)
		}
	}
}

func TestEnforceForErrorsNameTheLine(t *testing.T) {
	for name, tc := range map[string]struct {
		src, want string
		line      int
	}{
		"on an enforced policy": {`
  - id: a
    enforce_for: {rollout: mdm, waves: [pilot]}
    allow: {group: x}
`, "enforce_for needs mode: report-only", 3},
		"no rollout": {`
  - id: a
    mode: report-only
    enforce_for:
      waves: [pilot]
    allow: {group: x}
`, "enforce_for needs rollout:", 5},
		"no waves": {`
  - id: a
    mode: report-only
    enforce_for: {rollout: mdm}
    allow: {group: x}
`, "enforce_for needs waves:", 4},
		"bad wave name": {`
  - id: a
    mode: report-only
    enforce_for:
      rollout: mdm
      waves: [pilot, Sales Team]
    allow: {group: x}
`, `"Sales Team" is not a wave name`, 6},
		"wave twice": {`
  - id: a
    mode: report-only
    enforce_for: {rollout: mdm, waves: [pilot, pilot]}
    allow: {group: x}
`, "listed twice", 4},
		"bad plan id": {`
  - id: a
    mode: report-only
    enforce_for: {rollout: MDM 2027, waves: [pilot]}
    allow: {group: x}
`, "is not a rollout plan id", 4},
		"unknown key": {`
  - id: a
    mode: report-only
    enforce_for: {rollout: mdm, waves: [pilot], groups: [x]}
    allow: {group: x}
`, "groups", 4},
		"not a mapping": {`
  - id: a
    mode: report-only
    enforce_for: [pilot]
    allow: {group: x}
`, "enforce_for", 4},
	} {
		_, err := Parse("test.yaml", []byte("policies:"+tc.src))
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Errorf("%s: err = %v, want an error list", name, err)
			continue
		}
		if !strings.Contains(list[0].Msg, tc.want) || list[0].Line != tc.line {
			t.Errorf("%s: got %v, want %q at line %d", name, list[0], tc.want, tc.line)
		}
	}
}

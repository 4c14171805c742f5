package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// mustParse compiles a policies list given as YAML text.
func mustParse(t testing.TB, src string) map[string]*Policy {
	t.Helper()
	ps, err := Parse("test.yaml", []byte("policies:\n"+src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	out := map[string]*Policy{}
	for _, p := range ps {
		out[p.ID] = p
	}
	return out
}

func TestParseFileValid(t *testing.T) {
	ps, err := ParseFile(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	if want := []string{"staff", "mail", "finance", "admin"}; !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	if ps[2].Mode != ReportOnly || ps[0].Mode != Enforce {
		t.Errorf("modes = %v %v", ps[0].Mode, ps[2].Mode)
	}
	if got, want := ps[0].RuleIDs(), []string{"blocked-network", "embargo", "staff-managed", "contractors"}; !slices.Equal(got, want) {
		t.Errorf("staff rules = %v, want %v", got, want)
	}
	if got, want := ps[2].RuleIDs(), []string{"finance/deny/0", "finance/allow/0"}; !slices.Equal(got, want) {
		t.Errorf("finance rules = %v, want %v", got, want)
	}
	if ps[0].Line != 12 || ps[0].File != filepath.Join("testdata", "valid.yaml") {
		t.Errorf("staff defined at %s:%d", ps[0].File, ps[0].Line)
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join("testdata", "no-such-file.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "listen: :8443\n", "policies:\n", "policies: []\n"} {
		ps, err := Parse("x.yaml", []byte(src))
		if err != nil || len(ps) != 0 {
			t.Errorf("Parse(%q) = %v, %v", src, ps, err)
		}
	}
	if ps, err := ParsePolicies("x.yaml", nil); err != nil || ps != nil {
		t.Errorf("ParsePolicies(nil) = %v, %v", ps, err)
	}
}

func TestParsePoliciesNode(t *testing.T) {
	var doc yaml.Node
	src := "- id: a\n  allow: {group: staff}\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	ps, err := ParsePolicies("cfg.yaml", &doc)
	if err != nil || len(ps) != 1 || ps[0].ID != "a" {
		t.Fatalf("got %v, %v", ps, err)
	}
}

// TestParseErrors checks that each problem in testdata/errors.yaml is
// reported at its exact line, all in one pass.
func TestParseErrors(t *testing.T) {
	_, err := ParseFile(filepath.Join("testdata", "errors.yaml"))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want ErrorList", err)
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "errors.yaml"))
	// Each line marked "# ERR: text" must have an error containing text.
	want := map[int]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if _, msg, ok := strings.Cut(line, "# ERR: "); ok {
			want[i+1] = msg
		}
	}
	got := map[int]string{}
	for _, e := range list {
		if e.File != filepath.Join("testdata", "errors.yaml") {
			t.Errorf("error names file %q", e.File)
		}
		got[e.Line] += e.Msg + " | "
	}
	for line, msg := range want {
		if !strings.Contains(got[line], msg) {
			t.Errorf("line %d: want error containing %q, got %q", line, msg, got[line])
		}
	}
	for line, msg := range got {
		if _, ok := want[line]; !ok {
			t.Errorf("line %d: unexpected error %q", line, msg)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Col: 7, Msg: "bad"}, "a.yaml:3:7: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
	first := &Error{File: "a", Line: 1, Msg: "x"}
	list := ErrorList{first, {File: "a", Line: 2, Msg: "y"}}
	if list.Error() != "a:1: x\na:2: y" {
		t.Errorf("list: %q", list.Error())
	}
	var target *Error
	if !errors.As(error(list), &target) || target != first {
		t.Errorf("errors.As did not find the first error")
	}
	if Enforce.String() != "enforce" || ReportOnly.String() != "report-only" {
		t.Error("mode names")
	}
}

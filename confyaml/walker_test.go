package confyaml

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// root parses src and returns the value of its top-level key "v".
func root(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "v" {
			return m.Content[i+1]
		}
	}
	t.Fatalf("%q has no key v", src)
	return nil
}

func errStrings(l ErrorList) []string {
	var out []string
	for _, e := range l {
		out = append(out, e.Error())
	}
	return out
}

func TestReaders(t *testing.T) {
	tests := []struct {
		name string
		src  string
		read func(w *Walker, n *yaml.Node) any
		want any
		errs []string
	}{
		// Fields.
		{"fields", "v: {a: 1, b: 2}", fieldKeys, "a b", nil},
		{"fields of a list", "v: [1]", fieldKeys, "", []string{"f.yaml:1:4: thing must be a mapping, not a list"}},
		{"fields of a scalar", "v: x", fieldKeys, "", []string{`f.yaml:1:4: thing must be a mapping, not "x"`}},
		{"duplicate key, first wins", "v:\n  a: 1\n  b: 2\n  a: 3\n", fieldKeys, "a b", []string{`f.yaml:4:3: duplicate key "a" in thing`}},
		{"key not a name", "v:\n  ? [k]\n  : 1\n  b: 2\n", fieldKeys, "b", []string{"f.yaml:2:5: thing keys must be plain names"}},
		{"aliased key", "k: &k a\nv: {*k : 1}", fieldKeys, "a", nil},
		{"aliased mapping", "m: &m {x: 1}\nv: *m", fieldKeys, "x", nil},
		// Scalar: as written, empty allowed, null refused.
		{"scalar", `v: " a "`, scalar, " a ", nil},
		{"scalar empty", `v: ""`, scalar, "", nil},
		{"scalar number", "v: 3", scalar, "3", nil},
		{"scalar null", "v:", scalar, "", []string{"f.yaml:1:3: thing must be a string, not empty"}},
		{"scalar mapping", "v: {}", scalar, "", []string{"f.yaml:1:4: thing must be a string, not a mapping"}},
		// Str: trimmed, not empty.
		{"str", `v: " a "`, str, "a", nil},
		{"str blank", `v: "  "`, str, "", []string{"f.yaml:1:4: thing must not be empty"}},
		{"str null", "v: ~", str, "", []string{"f.yaml:1:4: thing must be a string, not empty"}},
		{"str list", "v: [a]", str, "", []string{"f.yaml:1:4: thing must be a string, not a list"}},
		// StrList.
		{"list of one", "v: a", strList(false), "[a] at 1:4", nil},
		{"list", "v:\n  - a\n  - ' b '\n", strList(false), "[a b] at 2:5 3:5", nil},
		{"list empty", "v: []", strList(false), "[]", []string{"f.yaml:1:4: thing must not be an empty list"}},
		{"list empty allowed", "v: []", strList(true), "[] at", nil},
		{"list null", "v:", strList(true), "[]", []string{"f.yaml:1:3: thing must be a string or a list of strings, not empty"}},
		{"list of mapping", "v: {a: 1}", strList(false), "[]", []string{"f.yaml:1:4: thing must be a string or a list of strings, not a mapping"}},
		{"list bad items", "v: [a, '', [b], ~]", strList(false), "[a   ]", []string{
			"f.yaml:1:8: thing item must not be empty",
			"f.yaml:1:12: thing item must be a string, not a list",
			"f.yaml:1:17: thing item must be a string, not empty",
		}},
		// Bool.
		{"bool", "v: true", boolean, true, nil},
		{"bool False", "v: False", boolean, false, nil},
		{"bool yes", "v: yes", boolean, false, []string{`f.yaml:1:4: thing must be true or false, not "yes"`}},
		{"bool quoted", `v: "true"`, boolean, false, []string{`f.yaml:1:4: thing must be true or false, not "true"`}},
		{"bool number", "v: 1", boolean, false, []string{"f.yaml:1:4: thing must be true or false, not a number (1)"}},
		// Duration.
		{"duration", "v: 90m", duration(false), 90 * time.Minute, nil},
		{"duration days", "v: ' 7d '", duration(false), 7 * 24 * time.Hour, nil},
		{"duration zero", "v: 0s", duration(false), time.Duration(0), []string{`f.yaml:1:4: thing must be positive, not "0s"`}},
		{"duration zero allowed", "v: 0d", duration(true), time.Duration(0), nil},
		{"duration negative", "v: -1h", duration(true), time.Duration(0), []string{`f.yaml:1:4: thing must be positive, not "-1h"`}},
		{"duration bad", "v: 7 days", duration(false), time.Duration(0), []string{`f.yaml:1:4: thing: bad duration "7 days" (write it like 15m, 72h or 7d)`}},
		{"duration bad days", "v: 1.5d", duration(false), time.Duration(0), []string{`f.yaml:1:4: thing: bad duration "1.5d" (write it like 15m, 72h or 7d)`}},
		{"duration too many days", "v: 9999999999d", duration(false), time.Duration(0), []string{`f.yaml:1:4: thing: bad duration "9999999999d" (write it like 15m, 72h or 7d)`}},
		{"duration empty", "v: ''", duration(false), time.Duration(0), []string{"f.yaml:1:4: thing must not be empty"}},
		// UnknownKey.
		{"unknown key", "v: {colour: red}", func(w *Walker, n *yaml.Node) any {
			fs, _ := w.Fields(n, "thing")
			w.UnknownKey(fs[0].KeyPos, fs[0].Key, "thing", []string{"color", "size"})
			return nil
		}, nil, []string{`f.yaml:1:5: unknown key "colour" in thing (want color, size)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &Walker{File: "f.yaml"}
			got := tt.read(w, root(t, tt.src))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if errs := errStrings(w.Errs); !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.errs, "\n"))
			}
		})
	}
}

func fieldKeys(w *Walker, n *yaml.Node) any {
	fs, _ := w.Fields(n, "thing")
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.Key)
	}
	return strings.Join(keys, " ")
}

func scalar(w *Walker, n *yaml.Node) any  { s, _ := w.Scalar(n, "thing"); return s }
func str(w *Walker, n *yaml.Node) any     { s, _ := w.Str(n, "thing"); return s }
func boolean(w *Walker, n *yaml.Node) any { b, _ := w.Bool(n, "thing"); return b }

func strList(emptyOK bool) func(*Walker, *yaml.Node) any {
	return func(w *Walker, n *yaml.Node) any {
		ss, nodes, ok := w.StrList(n, "thing", emptyOK)
		s := fmt.Sprint(ss)
		if ok {
			s += " at"
			for _, n := range nodes {
				s += fmt.Sprintf(" %d:%d", n.Line, n.Column)
			}
		}
		return s
	}
}

func duration(zeroOK bool) func(*Walker, *yaml.Node) any {
	return func(w *Walker, n *yaml.Node) any { d, _ := w.Duration(n, "thing", zeroOK); return d }
}

// TestFieldsAs checks the conversion to a parser's own pair type.
func TestFieldsAs(t *testing.T) {
	type pair struct{ k, v string }
	w := &Walker{File: "f.yaml"}
	got, ok := FieldsAs(w, root(t, "v: {a: x, b: y}"), "thing", func(f Field) pair { return pair{f.Key, f.Val.Value} })
	if !ok || !reflect.DeepEqual(got, []pair{{"a", "x"}, {"b", "y"}}) {
		t.Errorf("got %v %v", got, ok)
	}
	if got, ok := FieldsAs(w, root(t, "v: [a]"), "thing", func(f Field) pair { return pair{} }); ok || got != nil {
		t.Errorf("list: got %v %v", got, ok)
	}
}

// TestAliasBudget checks that a document cannot make the walker follow
// more than MaxAliases aliases, and that running out is reported once, at
// the first alias refused.
func TestAliasBudget(t *testing.T) {
	src := "a: &a x\nv: [" + strings.Repeat("*a, ", MaxAliases+5) + "*a]\n"
	w := &Walker{File: "f.yaml"}
	items := root(t, src).Content
	followed := 0
	for _, n := range items {
		if r := w.Resolve(n); r != nil {
			if r.Value != "x" {
				t.Fatalf("resolved to %q", r.Value)
			}
			followed++
		}
	}
	if followed != MaxAliases {
		t.Errorf("followed %d aliases, want %d", followed, MaxAliases)
	}
	col := 5 + 4*MaxAliases // "v: [" then "*a, " per alias
	want := []string{fmt.Sprintf("f.yaml:2:%d: too many YAML aliases", col)}
	if errs := errStrings(w.Errs); !reflect.DeepEqual(errs, want) {
		t.Errorf("errors %q, want %q", errs, want)
	}
	// A spent budget fails every later reader quietly.
	if _, ok := w.Str(items[0], "thing"); ok || len(w.Errs) != 1 {
		t.Errorf("after the budget: ok=%v, %d errors", ok, len(w.Errs))
	}
	if w.Resolve(nil) != nil {
		t.Error("Resolve(nil) != nil")
	}
}

// TestNestedAliases checks that an alias to an alias costs one each.
func TestNestedAliases(t *testing.T) {
	w := &Walker{File: "f.yaml"}
	n := root(t, "a: &a [x]\nb: &b [*a, *a]\nv: [*b, *b]\n")
	total := 0
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		n = w.Resolve(n)
		if n == nil {
			return
		}
		if n.Kind == yaml.ScalarNode {
			total++
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	if total != 4 || w.derefs != 6 || len(w.Errs) != 0 {
		t.Errorf("%d scalars, %d aliases followed, errors %v", total, w.derefs, w.Errs)
	}
}

func TestDescribeNode(t *testing.T) {
	tests := map[string]string{
		"v: {}":     "a mapping",
		"v: []":     "a list",
		"v:":        "empty",
		"v: null":   "empty",
		"v: no":     `"no"`,
		"v: false":  "a boolean",
		"v: 12":     "a number (12)",
		"v: 1.5":    "a number (1.5)",
		"v: '12'":   `"12"`,
		`v: "a\"b"`: `"a\"b"`,
	}
	for src, want := range tests {
		if got := DescribeNode(root(t, src)); got != want {
			t.Errorf("%s: %q, want %q", src, got, want)
		}
	}
	if got := DescribeNode(&yaml.Node{Kind: yaml.DocumentNode}); got != "a document" {
		t.Errorf("document: %q", got)
	}
	if got := DescribeNode(&yaml.Node{Kind: yaml.AliasNode}); got != "an alias" {
		t.Errorf("alias: %q", got)
	}
}

func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Col: 7, Msg: "bad"}, "a.yaml:3:7: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{File: "a.yaml", Col: 7, Msg: "bad"}, "a.yaml: bad"},
		{Error{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.e, got, tt.want)
		}
	}

	first := &Error{File: "a", Line: 9, Col: 1, Msg: "last"}
	l := ErrorList{first, {File: "a", Line: 2, Col: 5, Msg: "b"}, {File: "a", Line: 2, Col: 1, Msg: "a"}, {File: "a", Line: 2, Col: 5, Msg: "c"}}
	l.Sort()
	if got, want := l.Error(), "a:2:1: a\na:2:5: b\na:2:5: c\na:9:1: last"; got != want {
		t.Errorf("sorted list:\n%s\nwant:\n%s", got, want)
	}
	var err error = l
	var e *Error
	if !errors.As(err, &e) || e.Msg != "a" {
		t.Errorf("errors.As found %v", e)
	}
	if !errors.Is(err, first) {
		t.Error("errors.Is does not find a member")
	}
	var back ErrorList
	if !errors.As(fmt.Errorf("wrapped: %w", err), &back) || len(back) != 4 {
		t.Errorf("errors.As(ErrorList) = %v", back)
	}
	if ErrorList(nil).Error() != "" || len(ErrorList(nil).Unwrap()) != 0 {
		t.Error("empty list")
	}
}

package confyaml

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// FuzzWalk runs every reader over every node of an arbitrary YAML document:
// none may panic, every problem must be located in the file, and the alias
// budget must hold however the document nests its anchors.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		"a: {b: [x, ' y ', ~, 3, true], c: 7d}\n",
		"a: 1\na: 2\n? [k]\n: v\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c, *c]\n",
		"a: &a {k: *a}\n",
		"- &x [*x]\n",
		"{*a : 1}\n",
		"v: [a, '', [b], ~, {}]\n",
		"v: -1h\nw: 0s\nx: 1.5d\ny: '  '\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) != nil {
			return
		}
		w := &Walker{File: "fuzz.yaml"}
		visits := 0
		var walk func(n *yaml.Node, depth int)
		walk = func(n *yaml.Node, depth int) {
			visits++
			if depth > 40 || visits > 10000 {
				return
			}
			w.Scalar(n, "scalar")
			w.Str(n, "str")
			w.StrList(n, "list", depth%2 == 0)
			w.Bool(n, "bool")
			w.Duration(n, "duration", depth%2 == 1)
			if r := w.Resolve(n); r != nil {
				_ = DescribeNode(r)
			}
			if fs, ok := w.Fields(n, "mapping"); ok {
				for _, fl := range fs {
					if fl.Key != fl.KeyPos.Value {
						t.Fatalf("key %q at a node of %q", fl.Key, fl.KeyPos.Value)
					}
					walk(fl.Val, depth+1)
				}
				return
			}
			if r := w.Resolve(n); r != nil && r.Kind == yaml.SequenceNode {
				for _, c := range r.Content {
					walk(c, depth+1)
				}
			}
		}
		for _, n := range doc.Content {
			walk(n, 0)
		}
		if w.derefs > MaxAliases+1 {
			t.Fatalf("followed %d aliases", w.derefs)
		}
		budget := 0
		for _, e := range w.Errs {
			if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("badly located error %+v", e)
			}
			if e.Msg == "too many YAML aliases" {
				budget++
			}
		}
		if budget > 1 {
			t.Fatalf("alias budget reported %d times", budget)
		}
		w.Errs.Sort()
		for i := 1; i < len(w.Errs); i++ {
			a, b := w.Errs[i-1], w.Errs[i]
			if a.Line > b.Line || a.Line == b.Line && a.Col > b.Col {
				t.Fatalf("not sorted: %v before %v", a, b)
			}
		}
	})
}

// FuzzParseDays checks the weekday reader on any string: a set it returns
// is a non-empty set of real days, and an error is a weekday error.
func FuzzParseDays(f *testing.F) {
	for _, s := range []string{"mon", "Monday", "fri-mon", " sat - sun ", "tueday", "mon-", "-", "ſunday", "mon-tue-wed"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDays(s)
		if err == nil && (d == 0 || d&^AllDays != 0) {
			t.Fatalf("ParseDays(%q) = %08b", s, d)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "unknown weekday") {
			t.Fatalf("%q: error %v", s, err)
		}
	})
}

// FuzzParseDuration checks that ParseDuration agrees with time.ParseDuration
// on everything but whole days, which it reads as 24-hour multiples.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15m", "7d", "-3d", "+2d", "0d", "1.5d", "d", "1hd", "106751d", "106752d", "2147483647d", "2147483648d", ""} {
		f.Add(s)
	}
	const maxDays = int64(math.MaxInt64 / (24 * time.Hour))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil && !strings.HasPrefix(err.Error(), "bad duration") {
			t.Fatalf("%q: %v", s, err)
		}
		days, isDays := strings.CutSuffix(s, "d")
		if isDays && days != "" && !strings.ContainsAny(days, "hmsuµn.") {
			// Day counts past time.Duration's range wrap around (see
			// ParseDuration), so check only those it can hold.
			n, perr := strconv.ParseInt(days, 10, 32)
			if (err == nil) != (perr == nil) {
				t.Fatalf("%q: %v, but ParseInt: %v", s, err, perr)
			}
			if err == nil && n >= -maxDays && n <= maxDays && d != time.Duration(n)*24*time.Hour {
				t.Fatalf("%q = %v, not %d days", s, d, n)
			}
			return
		}
		want, werr := time.ParseDuration(s)
		if (err == nil) != (werr == nil) || d != want {
			t.Fatalf("%q = %v %v; time.ParseDuration: %v %v", s, d, err, want, werr)
		}
	})
}

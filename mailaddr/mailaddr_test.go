package mailaddr

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"  Alice@Example.COM\t", "alice@example.com", true},
		{"a+tag@sub.example.com", "a+tag@sub.example.com", true},
		{"\u212Aim@example.com", "", false},            // KELVIN SIGN folds to k under Unicode
		{"kim@ex\u0430mple.com", "", false},            // Cyrillic а
		{"kim\uff20example.com", "", false},            // full-width @
		{"\u0130nge@example.com", "", false},           // dotted capital I
		{"kim@example.com\u200b", "", false},           // zero-width space
		{"kim @example.com", "", false},                // inner space
		{"kim@example.com\x00", "", false},             // NUL
		{"kim", "", false},                             // no @
		{"@example.com", "", false},                    // no local part
		{"kim@", "", false},                            // no domain
		{"a@b@example.com", "", false},                 // two @
		{"", "", false},                                //
		{strings.Repeat("a", 251) + "@b.c", "", false}, // too long
	} {
		got, err := Normalize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestEqualNeverFoldsUnicode(t *testing.T) {
	if !Equal("Kim@Example.com", "kim@example.com") {
		t.Error("ASCII case must not matter")
	}
	for _, other := range []string{"\u212Aim@example.com", "kim@example.com\u212A", "kım@example.com"} {
		if Equal(other, "kim@example.com") || Equal("kim@example.com", other) {
			t.Errorf("%q equals kim@example.com", other)
		}
		if Equal(other, other) {
			t.Errorf("an unacceptable address %q equals itself", other)
		}
	}
	if Fold("\u212Aim@Example.com") != "\u212Aim@example.com" {
		t.Error("Fold must leave non-ASCII bytes alone")
	}
}

func TestDomain(t *testing.T) {
	if d := Domain("Bob@Corp.Example"); d != "corp.example" {
		t.Errorf("Domain = %q", d)
	}
	if d := Domain("bob@corp.\u212Axample"); d != "" {
		t.Errorf("Domain of an unacceptable address = %q", d)
	}
	for in, want := range map[string]string{"Corp.Example.": "corp.example", " corp.example ": "corp.example"} {
		if got, err := NormalizeDomain(in); err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "a@b", "\u212A.example", "a b", "*.example.com", "a..b", ".", "a_b.example"} {
		if _, err := NormalizeDomain(bad); err == nil {
			t.Errorf("NormalizeDomain(%q) accepted", bad)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a@b", " A@B ", "\u212Aim@example.com", "a@@b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		for i := 0; i < len(n); i++ {
			if n[i] < 0x21 || n[i] > 0x7e || (n[i] >= 'A' && n[i] <= 'Z') {
				t.Fatalf("Normalize(%q) = %q holds byte %#x", s, n, n[i])
			}
		}
		if again, err := Normalize(n); err != nil || again != n {
			t.Fatalf("Normalize is not idempotent on %q: %q, %v", n, again, err)
		}
	})
}

func TestEqualFold(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Kim@Example.com", "kim@example.com", true},
		{"\u212Aim@example.com", "kim@example.com", false},
		{"\u212Aim@example.com", "Kim@example.com", false},
		{"\u212A", "\u212A", true},
		{"ſ", "s", false}, // LATIN SMALL LETTER LONG S folds to s under Unicode
		{"a", "ab", false},
	} {
		if got := EqualFold(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualFold(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

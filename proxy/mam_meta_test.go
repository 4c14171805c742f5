package proxy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// injectMeta runs the injector with meta rewriting on, as contain sets it
// up: base "B/" as the asset source, nonce "N" (the markup "[P nonce]"
// loses its nonce unless a policy was given it).
func injectMeta(t testing.TB, in string, headerNonce bool, bufSize int, sizes ...int) (string, error) {
	t.Helper()
	inj := &injector{src: &chunks{b: []byte(in), sizes: sizes}, insert: []byte(`[P nonce="N"]`), nonceAttr: ` nonce="N"`,
		usedNonce: headerNonce, atEOF: true,
		amendMeta: func(pol string) (string, bool) { return amendPolicy(pol, "B/", "N", true) }}
	var out bytes.Buffer
	buf := make([]byte, bufSize)
	for {
		n, err := inj.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
	}
}

// TestInjectorAmendsMetaCSPAtEveryChunkBoundary: a CSP the page sets in a
// <meta> tag before the insertion point gets Portier's asset source (and
// the nonce, which Portier's script then carries, where the policy relies
// on nonces), however the page is split; other meta tags, and "<meta" in
// comments, attribute values and scripts, are left as they are.
func TestInjectorAmendsMetaCSPAtEveryChunkBoundary(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"self policy",
			`<head><meta http-equiv="Content-Security-Policy" content="default-src 'self'"></head><body>x`,
			`<head><meta http-equiv="Content-Security-Policy" content="default-src &#39;self&#39;; style-src &#39;self&#39; B/; script-src &#39;self&#39; B/"></head>[P]<body>x`},
		{"nonce policy gives the script the nonce",
			`<meta content="script-src 'nonce-app' 'strict-dynamic'" HTTP-EQUIV='content-security-policy'/><body>x`,
			`<meta content="script-src &#39;nonce-app&#39; &#39;strict-dynamic&#39; B/ &#39;nonce-N&#39;" http-equiv="content-security-policy"><body>[P nonce="N"]x`},
		{"unquoted values and entities",
			`<META http-equiv=Content-Security-Policy content=style-src&#x20;&apos;none&apos;><body>x`,
			`<meta http-equiv="Content-Security-Policy" content="style-src B/"><body>[P]x`},
		{"first of a twice-named attribute counts",
			`<meta http-equiv="content-security-policy" content="img-src 'none'" content="style-src 'none'"></head>x`,
			`<meta http-equiv="content-security-policy" content="img-src &#39;none&#39;"></head>[P]x`},
		{"other meta tags untouched",
			`<meta charset=utf-8><meta name="csp" content="style-src 'none'"><meta http-equiv="refresh" content="5"><body>x`,
			`<meta charset=utf-8><meta name="csp" content="style-src 'none'"><meta http-equiv="refresh" content="5"><body>[P]x`},
		{"not a tag in comments, values and scripts",
			`<!-- <meta http-equiv="Content-Security-Policy" content="style-src 'none'"> --><p title='<meta http-equiv=content-security-policy content=x>'>` +
				`<script>"<meta http-equiv=content-security-policy content=y>"</script><body>x`,
			`<!-- <meta http-equiv="Content-Security-Policy" content="style-src 'none'"> --><p title='<meta http-equiv=content-security-policy content=x>'>` +
				`<script>"<meta http-equiv=content-security-policy content=y>"</script><body>[P]x`},
		{"after the insertion only copied",
			`<body><meta http-equiv="Content-Security-Policy" content="style-src 'none'">`,
			`<body>[P]<meta http-equiv="Content-Security-Policy" content="style-src 'none'">`},
		{"metadata and metal are no meta", `<metadata a="<body>"><metal><body>x`, `<metadata a="<body>"><metal><body>[P]x`},
		{"unfinished meta at the end", `<p><meta http-equiv="Content-Security-Policy" content="a`, `<p><meta http-equiv="Content-Security-Policy" content="a[P]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, bufSize := range []int{3, 16, 512} {
				check := func(how string, sizes ...int) {
					t.Helper()
					got, err := injectMeta(t, c.in, false, bufSize, sizes...)
					if err != nil || got != c.want {
						t.Fatalf("%s, buffer %d: %v\n got %s\nwant %s", how, bufSize, err, got, c.want)
					}
				}
				check("whole", len(c.in))
				check("byte by byte", 1)
				for i := 1; i < len(c.in); i++ {
					check("split at "+c.in[:i]+" | ", i, len(c.in))
				}
			}
		})
	}
}

// TestInjectorHeaderNonceKept: when a header policy was given the nonce,
// the script keeps it without any meta tag.
func TestInjectorHeaderNonceKept(t *testing.T) {
	if got, _ := injectMeta(t, `<body>x`, true, 64, 64); got != `<body>[P nonce="N"]x` {
		t.Errorf("got %s", got)
	}
}

// TestInjectorRefusesAnEndlessMetaTag: a <meta> tag longer than the
// injector holds ends the page with errCannotContain instead of passing
// a policy Portier has not read.
func TestInjectorRefusesAnEndlessMetaTag(t *testing.T) {
	page := `<head><meta http-equiv="Content-Security-Policy" content="` + strings.Repeat("a", 2*maxHeldTag) + `"></head><body>secret`
	got, err := injectMeta(t, page, false, 4096, 4096)
	if !errors.Is(err, errCannotContain) || strings.Contains(got, "secret") || strings.Contains(got, "aaaa") {
		t.Fatalf("error %v, %d bytes out", err, len(got))
	}
}

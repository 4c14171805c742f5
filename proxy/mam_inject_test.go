package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// chunks is a body that arrives in reads of the given sizes (the last one
// repeats), like a network connection would deliver it.
type chunks struct {
	b     []byte
	sizes []int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := c.sizes[0]
	if len(c.sizes) > 1 {
		c.sizes = c.sizes[1:]
	}
	n = min(n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func (c *chunks) Close() error { return nil }

// inject runs the injector over in, read in the given chunk sizes, with
// the caller reading through a small buffer: one with room for the markup
// (bufSize ≥ 6, inserted in place) or without (kept aside).
func inject(t testing.TB, in string, atEOF bool, bufSize int, sizes ...int) string {
	t.Helper()
	inj := &injector{src: &chunks{b: []byte(in), sizes: sizes}, insert: []byte("[P]"), atEOF: atEOF}
	var out bytes.Buffer
	buf := make([]byte, bufSize)
	for {
		n, err := inj.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	return out.String()
}

// TestInjectorFindsTheBodyAtEveryChunkBoundary splits each page at every
// byte (two reads), and also reads it one byte at a time: the markup goes
// to the same place whatever the chunking, right after <body…> or
// </head>, and never inside a comment, an attribute value or a script.
func TestInjectorFindsTheBodyAtEveryChunkBoundary(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"body after head", `<!doctype html><html><head><title>T</title></head><body class="a">hi</body></html>`,
			`<!doctype html><html><head><title>T</title></head>[P]<body class="a">hi</body></html>`},
		{"body without head", `<html><BODY CLASS=x onload='f()'>hi`, `<html><BODY CLASS=x onload='f()'>[P]hi`},
		{"self-closed body", `<body/>x`, `<body/>[P]x`},
		{"head end with space", `<head><meta charset=utf-8></head >x`, `<head><meta charset=utf-8></head >[P]x`},
		{"in a comment", `<!-- <body> </head> --><body>x`, `<!-- <body> </head> --><body>[P]x`},
		{"comment ending --!>", `<!-- a --!><body>x`, `<!-- a --!><body>[P]x`},
		{"abrupt comments", `<!--><!---><body>x`, `<!--><!---><body>[P]x`},
		{"dashes inside a comment", `<!-- -- - <body> ---><body>x`, `<!-- -- - <body> ---><body>[P]x`},
		{"in attribute values", `<meta content="<body>" name='</head>' x=a"b><body>x`, `<meta content="<body>" name='</head>' x=a"b><body>[P]x`},
		{"quote in a name is no quote", `<p a"b><body>x`, `<p a"b><body>[P]x`},
		{"in a script", `<script>var s = "<body></head>"; if (a</script) {}</script ><body>x`,
			`<script>var s = "<body></head>"; if (a</script) {}</script ><body>[P]x`},
		{"script end tag in upper case", `<script>"<body>"</SCRIPT><body>x`, `<script>"<body>"</SCRIPT><body>[P]x`},
		{"in a title and style", `<title><body></title><style>p::after{content:"</head>"}</style></head>x`,
			`<title><body></title><style>p::after{content:"</head>"}</style></head>[P]x`},
		{"in noscript and textarea", `<noscript><body></noscript><textarea></head></textarea><body>x`,
			`<noscript><body></noscript><textarea></head></textarea><body>[P]x`},
		{"doctype and processing instruction", `<!DOCTYPE html><?xml x="<body>"?><body>x`, `<!DOCTYPE html><?xml x="<body>"?><body>[P]x`},
		{"not body", `<bodyx><tbody><b><body>x`, `<bodyx><tbody><b><body>[P]x`},
		{"stray less-than", `a << b <=d </>c <body>x`, `a << b <=d </>c <body>[P]x`},
		{"bogus end tag hides a body", `</ c <body>x<body>y`, `</ c <body>x<body>[P]y`},
		{"only once", `<body><body></head>`, `<body>[P]<body></head>`},
		{"plaintext ends scanning", `<plaintext><body>x`, `<plaintext><body>x`},
		{"unterminated", `<body`, `<body`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, bufSize := range []int{7, 4, 64} {
				if got := inject(t, c.in, false, bufSize, len(c.in)); got != c.want {
					t.Fatalf("whole, buffer %d:\n got %s\nwant %s", bufSize, got, c.want)
				}
				if got := inject(t, c.in, false, bufSize, 1); got != c.want {
					t.Fatalf("byte by byte, buffer %d:\n got %s\nwant %s", bufSize, got, c.want)
				}
				for i := 1; i < len(c.in); i++ {
					if got := inject(t, c.in, false, bufSize, i, len(c.in)); got != c.want {
						t.Fatalf("split at %d (%q | %q), buffer %d:\n got %s\nwant %s", i, c.in[:i], c.in[i:], bufSize, got, c.want)
					}
				}
			}
		})
	}
}

// TestInjectorWithoutBody: a fragment fetched by a script is left alone;
// a page loaded as a document gets the markup at its end.
func TestInjectorWithoutBody(t *testing.T) {
	const frag = `<div class="row"><td>1</td></div>`
	if got := inject(t, frag, false, 7, 5); got != frag {
		t.Errorf("fragment changed: %s", got)
	}
	if got := inject(t, frag, true, 4, 5); got != frag+"[P]" {
		t.Errorf("document without body = %s", got)
	}
	if got := inject(t, "", true, 7, 1); got != "[P]" {
		t.Errorf("empty document = %q", got)
	}
	if got := inject(t, `<plaintext>x`, true, 7, 3); got != `<plaintext>x` {
		t.Errorf("plaintext document = %s", got)
	}
}

// TestInjectorStreams: the injector hands on what it has read before the
// page is complete, so a slow page is not held back (bounded memory).
func TestInjectorStreams(t *testing.T) {
	pr, pw := io.Pipe()
	inj := &injector{src: pr, insert: []byte("[P]")}
	go func() { _, _ = io.WriteString(pw, "<html><head></head><body>first") }()
	buf := make([]byte, 64)
	var got []byte
	for !bytes.Contains(got, []byte("first")) {
		n, err := inj.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "<html><head></head>[P]<body>first" {
		t.Fatalf("before the rest arrived: %s", got)
	}
	go func() { _, _ = io.WriteString(pw, strings.Repeat("x", 1<<20)); pw.Close() }()
	n, _ := io.Copy(io.Discard, inj)
	if n != 1<<20 {
		t.Fatalf("rest = %d bytes", n)
	}
}

// FuzzInjector: whatever the page and the chunking, the output is the
// input with the markup inserted at most once, at one place, and the same
// place however the input is split.
func FuzzInjector(f *testing.F) {
	for _, s := range []string{`<html><head></head><body>x`, `<!-- <body> --><body>`, `<script>"<body>"</script><body>`,
		`<a b="<body>">`, `<!---->`, `</head>`, `<plaintext>`, `<title></title><body/>`,
		`<meta http-equiv=content-security-policy content="script-src 'nonce-a'"><body>`, `<meta content='x' http-equiv="Content-Security-Policy"/></head>`} {
		f.Add(s, uint8(3), true)
	}
	f.Fuzz(func(t *testing.T, in string, split uint8, atEOF bool) {
		whole := inject(t, in, atEOF, 64, len(in)+1)
		chunked := inject(t, in, atEOF, int(split)%9+1, int(split)%7+1, int(split)%3+1)
		if whole != chunked {
			t.Fatalf("chunking changes the output:\nwhole   %q\nchunked %q", whole, chunked)
		}
		// With meta tags' policies amended (and the markup at the end of a
		// document): the same whatever the chunking, and only a <meta> tag
		// changes anything.
		mWhole, err1 := injectMeta(t, in, false, 64, len(in)+1)
		mChunked, err2 := injectMeta(t, in, false, int(split)%9+1, int(split)%7+1, int(split)%3+1)
		if err1 != nil || err2 != nil || mWhole != mChunked {
			t.Fatalf("with meta rewriting, chunking changes the output (%v, %v):\nwhole   %q\nchunked %q", err1, err2, mWhole, mChunked)
		}
		if !strings.Contains(strings.ToLower(in), "<meta") && mWhole != inject(t, in, true, 64, len(in)+1) {
			t.Fatalf("without a meta tag, rewriting changed the output: %q", mWhole)
		}
		if whole == in {
			return
		}
		if len(whole) != len(in)+3 {
			t.Fatalf("output %q is not the input %q plus the markup once", whole, in)
		}
		for i := 0; i+3 <= len(whole); i++ {
			if whole[i:i+3] == "[P]" && whole[:i]+whole[i+3:] == in {
				return
			}
		}
		t.Fatalf("output %q does not hold the input %q in order", whole, in)
	})
}

// BenchmarkInjector is the injector alone over a 32 KiB page with the
// insertion point after a 1 KiB head (36 <meta> tags, none a CSP), read
// through ReverseProxy's 32 KiB buffer, with meta CSP amending on as
// contain sets it: the CPU the watermark adds per page beyond building
// the markup.
func BenchmarkInjector(b *testing.B) {
	page := []byte("<!doctype html><html><head><title>T</title><script>var s = '<body>'</script>" +
		strings.Repeat(`<meta name="x" content="y">`, 36) + "</head><body>" + strings.Repeat("<p>row of text</p>\n", 1640) + "</body></html>")
	insert := bytes.Repeat([]byte("m"), 5<<10)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		inj := &injector{src: io.NopCloser(bytes.NewReader(page)), insert: insert,
			amendMeta: func(pol string) (string, bool) { return amendPolicy(pol, "https://a.example/.portier/mam/", "N", true) }}
		n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{inj}, buf)
		if n != int64(len(page)+len(insert)) {
			b.Fatalf("%d bytes", n)
		}
	}
}

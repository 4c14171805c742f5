package proxy

import (
	"bytes"
	"io"
)

// injector passes an HTML body through unchanged except for Portier's
// markup, inserted once: right after the page's <body …> start tag, or
// right after </head> when that comes first. Before that point it also
// amends every <meta http-equiv="Content-Security-Policy"> tag, so that a
// policy the page sets for itself lets Portier's assets load, as the
// header policies are amended (see amendCSP). It streams: it scans the
// bytes with a small HTML tokenizer state machine (enough to skip
// comments, quoted attribute values and the raw text of <script>,
// <style>, <title> and the like, where "<body" or "<meta" is no tag), and
// holds back only a tag that may be a <meta> until its '>' arrives
// (at most maxHeldTag bytes). After the insertion it only copies.
//
// When neither tag appears, a page loaded as a document (atEOF) gets the
// markup at the end, where browsers put it into the body; anything else
// (a fragment fetched by a script) is left as it is.
type injector struct {
	src    io.ReadCloser
	insert []byte
	// nonceAttr is the ` nonce="…"` attribute of Portier's script in
	// insert; it is taken out again at the insertion unless a policy (a
	// header's or a meta tag's) was given the nonce (usedNonce).
	nonceAttr string
	usedNonce bool
	// amendMeta amends a meta tag's policy and reports whether it was
	// given the nonce; nil leaves meta tags alone.
	amendMeta func(policy string) (string, bool)
	atEOF     bool
	scan      htmlScanner
	done      bool   // inserted, or no insertion point can come any more
	held      []byte // the start of a tag that may be a <meta>, from its '<'
	out       []byte // scratch for the bytes around an insertion or a rewrite
	pending   []byte
	err       error // the source's error, returned once pending is out
}

// maxHeldTag bounds a <meta> tag the injector holds to rewrite. A longer
// one ends the page with errCannotContain rather than let a policy in it
// block Portier's elements unseen.
const maxHeldTag = 64 << 10

func (in *injector) Read(p []byte) (int, error) {
	if len(in.pending) > 0 {
		n := copy(p, in.pending)
		in.pending = in.pending[n:]
		return n, nil
	}
	if in.err != nil {
		return 0, in.err
	}
	if in.done {
		return in.src.Read(p)
	}
	for {
		n, err := in.readSome(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// readSome reads once from the source before the insertion; it may hand
// on nothing (the bytes read are all held).
func (in *injector) readSome(p []byte) (int, error) {
	// Leave room in p for the markup, so that in the common case (the
	// insertion point in a read with nothing held or rewritten before it)
	// it goes in place, without a copy of the page kept aside.
	buf := p
	if len(p) >= 2*len(in.insert) {
		buf = p[:len(p)-len(in.insert)]
	}
	n, err := in.src.Read(buf)
	if n > 0 {
		out, m, ferr := in.filter(p, n)
		switch {
		case ferr != nil:
			in.err = ferr
			return 0, ferr
		case out != nil:
			n = copy(p, out)
			in.pending = out[n:]
		default:
			n = m
		}
	}
	if err != nil {
		if !in.done {
			in.done = true
			// An unfinished tag at the end of the page is passed on as it is.
			in.pending = append(in.pending, in.held...)
			in.held = nil
			if err == io.EOF && in.atEOF {
				in.pending = append(in.pending, in.markup()...)
			}
		}
		if len(in.pending) > 0 {
			in.err = err
			if n == 0 {
				n = copy(p, in.pending)
				in.pending = in.pending[n:]
			}
			return n, nil
		}
	}
	return n, err
}

// filter scans the n bytes just read into p (before the insertion). It
// returns either nil and the length of p to hand on (the bytes as they
// came, or with the markup inserted in place when p has room), or the
// bytes to hand on instead.
func (in *injector) filter(p []byte, n int) ([]byte, int, error) {
	data, fed := p[:n], 0 // data: held bytes (already scanned) and the new ones
	if len(in.held) > 0 {
		data = append(in.held, data...)
		fed = len(in.held)
		in.held = nil
	}
	start := in.scan.off - int64(fed) // stream offset of data[0]
	out, from, changed := in.out[:0], 0, fed > 0
	for fed < len(data) && !in.done {
		i, ev := in.scan.feed(data[fed:])
		if ev == evNone {
			break
		}
		i += fed
		fed = i
		switch ev {
		case evInsert:
			m := in.markup()
			in.done = true
			if !changed && len(p)-n >= len(m) {
				copy(p[i+len(m):n+len(m)], p[i:n])
				copy(p[i:], m)
				return nil, n + len(m), nil
			}
			out = append(append(out, data[from:i]...), m...)
			from, changed = i, true
		case evMeta:
			if in.amendMeta == nil {
				continue
			}
			lt := int(in.scan.lt - start)
			if tag, ok := rewriteMetaCSP(data[lt:i], in.amendMeta, &in.usedNonce); ok {
				out = append(append(out, data[from:lt]...), tag...)
				from, changed = i, true
			}
		}
	}
	if in.scan.state == sGaveUp {
		in.done = true
	}
	if !in.done && in.amendMeta != nil && in.scan.mayBeMeta() {
		lt := int(in.scan.lt - start)
		if len(data)-lt > maxHeldTag {
			return nil, 0, errCannotContain
		}
		in.held = append([]byte(nil), data[lt:]...)
		out = append(out, data[from:lt]...)
		from, changed = len(data), true
	}
	if !changed {
		return nil, n, nil
	}
	out = append(out, data[from:]...)
	in.out = out
	return out, 0, nil
}

// markup is what goes in: insert, without the nonce no policy was given.
func (in *injector) markup() []byte {
	if in.nonceAttr == "" || in.usedNonce {
		return in.insert
	}
	i := bytes.LastIndex(in.insert, []byte(in.nonceAttr))
	if i < 0 {
		return in.insert
	}
	return append(append(make([]byte, 0, len(in.insert)), in.insert[:i]...), in.insert[i+len(in.nonceAttr):]...)
}

func (in *injector) Close() error { return in.src.Close() }

// Scanner states: a subset of the HTML tokenizer's, enough to know when a
// '>' ends a real <body> start tag or </head> end tag.
const (
	sData         = iota
	sTagOpen      // after '<'
	sEndTagOpen   // after "</"
	sTagName      // in a tag name
	sAttrs        // in a tag, after its name, outside quotes
	sDoubleQuoted // in a "…" attribute value
	sSingleQuoted // in a '…' attribute value
	sMarkup       // after "<!"
	sCommentDash  // after "<!-"
	sComment      // in <!-- … -->
	sBogus        // in <!doctype …>, <?…> or another bogus comment, until '>'
	sRawText      // in the text of a raw text element (rawName)
	sRawLT        // after '<' in raw text
	sRawEnd       // after "</" in raw text, matching rawName
	sGaveUp       // after <plaintext>: no tag can follow
)

// rawTextElements hold text up to their own end tag, in which "<body" is
// no tag. noscript is one when scripting is on, as in every browser that
// runs Portier's script.
var rawTextElements = []string{"script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript"}

// htmlScanner is the state machine; its zero value starts in data.
type htmlScanner struct {
	state    int
	end      bool    // the tag being read is an end tag
	name     [9]byte // the tag name, lower case, truncated
	nameLen  int     // may exceed len(name): then no name matches
	afterEq  bool    // in a tag, after '=' (a quote opens a value)
	dashes   int     // in a comment: '-' just seen
	bang     bool    // in a comment: "--!" just seen
	comLen   int     // in a comment: bytes seen, capped
	rawName  string  // in raw text: the element that ends it
	rawMatch int     // in sRawEnd: bytes of rawName matched
	off      int64   // bytes fed so far
	lt       int64   // stream offset of the '<' that opened the last tag
}

// Events feed stops at.
const (
	evNone   = iota
	evInsert // the '>' ending the insertion tag
	evMeta   // the '>' ending a <meta> start tag (opened at lt)
)

// mayBeMeta reports whether the scanner is inside a start tag that is or
// may turn out to be a <meta> tag.
func (s *htmlScanner) mayBeMeta() bool {
	switch s.state {
	case sTagOpen:
		return true
	case sTagName:
		return !s.end && s.nameLen <= 4 && string(s.name[:s.nameLen]) == "meta"[:s.nameLen]
	case sAttrs, sDoubleQuoted, sSingleQuoted:
		return !s.end && s.nameIs("meta")
	}
	return false
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r' }

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func isLetter(b byte) bool { b = lower(b); return 'a' <= b && b <= 'z' }

// feed scans p up to the first event and returns the index just after
// the byte that caused it, with the event; or len(p) and evNone.
func (s *htmlScanner) feed(p []byte) (n int, ev int) {
	base := s.off
	defer func() { s.off = base + int64(n) }()
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch s.state {
		case sData, sRawText:
			// Most bytes are text: jump to the next '<'.
			j := bytes.IndexByte(p[i:], '<')
			if j < 0 {
				return len(p), evNone
			}
			i += j
			if s.state == sData {
				s.state, s.lt = sTagOpen, base+int64(i)
			} else {
				s.state = sRawLT
			}
		case sTagOpen:
			switch {
			case isLetter(b):
				s.startName(false, b)
			case b == '/':
				s.state = sEndTagOpen
			case b == '!':
				s.state = sMarkup
			case b == '?':
				s.state = sBogus
			case b == '<':
				s.lt = base + int64(i)
			default:
				s.state = sData
			}
		case sEndTagOpen:
			switch {
			case isLetter(b):
				s.startName(true, b)
			case b == '>':
				s.state = sData
			default:
				s.state = sBogus
			}
		case sTagName:
			switch {
			case isSpace(b) || b == '/':
				s.state, s.afterEq = sAttrs, false
			case b == '>':
				if ev := s.tagEnd(); ev != evNone {
					return i + 1, ev
				}
			default:
				s.addName(b)
			}
		case sAttrs:
			switch {
			case b == '>':
				if ev := s.tagEnd(); ev != evNone {
					return i + 1, ev
				}
			case b == '=':
				s.afterEq = true
			case (b == '"' || b == '\'') && s.afterEq:
				s.state = sDoubleQuoted
				if b == '\'' {
					s.state = sSingleQuoted
				}
			case isSpace(b):
			default:
				s.afterEq = false
			}
		case sDoubleQuoted, sSingleQuoted:
			q := byte('"')
			if s.state == sSingleQuoted {
				q = '\''
			}
			j := bytes.IndexByte(p[i:], q)
			if j < 0 {
				return len(p), evNone
			}
			i += j
			s.state, s.afterEq = sAttrs, false
		case sMarkup:
			switch b {
			case '-':
				s.state = sCommentDash
			case '>':
				s.state = sData
			default:
				s.state = sBogus
			}
		case sCommentDash:
			switch b {
			case '-':
				s.state, s.dashes, s.bang, s.comLen = sComment, 0, false, 0
			case '>':
				s.state = sData
			default:
				s.state = sBogus
			}
		case sComment:
			s.comment(b)
		case sBogus:
			if b == '>' {
				s.state = sData
			}
		case sRawLT:
			switch b {
			case '/':
				s.state, s.rawMatch = sRawEnd, 0
			case '<':
			default:
				s.state = sRawText
			}
		case sRawEnd:
			switch {
			case s.rawMatch < len(s.rawName) && lower(b) == s.rawName[s.rawMatch]:
				s.rawMatch++
			case s.rawMatch == len(s.rawName) && (isSpace(b) || b == '/'):
				s.state, s.end, s.nameLen, s.afterEq = sAttrs, true, 0, false
			case s.rawMatch == len(s.rawName) && b == '>':
				s.state = sData
			case b == '<':
				s.state = sRawLT
			default:
				s.state = sRawText
			}
		case sGaveUp:
			return len(p), evNone
		}
	}
	return len(p), evNone
}

// comment follows a comment to its end: "-->", "--!>", or the abrupt
// "<!-->" and "<!--->".
func (s *htmlScanner) comment(b byte) {
	switch b {
	case '>':
		if s.dashes >= 2 || s.bang || (s.comLen == s.dashes && s.comLen <= 1) {
			s.state = sData
			return
		}
		s.dashes, s.bang = 0, false
	case '-':
		s.dashes++
		s.bang = false
	case '!':
		s.bang = s.dashes >= 2
		s.dashes = 0
	default:
		s.dashes, s.bang = 0, false
	}
	if s.comLen < 2 {
		s.comLen++
	}
}

func (s *htmlScanner) startName(end bool, b byte) {
	s.state, s.end, s.nameLen = sTagName, end, 0
	s.addName(b)
}

func (s *htmlScanner) addName(b byte) {
	if s.nameLen < len(s.name) {
		s.name[s.nameLen] = lower(b)
	}
	s.nameLen++
}

func (s *htmlScanner) nameIs(n string) bool {
	return s.nameLen == len(n) && string(s.name[:s.nameLen]) == n
}

// tagEnd handles the '>' that ends a tag and reports the event it is:
// the insertion point, a <meta> tag, or none.
func (s *htmlScanner) tagEnd() int {
	s.state = sData
	if s.end {
		if s.nameIs("head") {
			return evInsert
		}
		return evNone
	}
	switch {
	case s.nameIs("body"):
		return evInsert
	case s.nameIs("meta"):
		return evMeta
	case s.nameIs("plaintext"):
		s.state = sGaveUp
		return evNone
	}
	for _, n := range rawTextElements {
		if s.nameIs(n) {
			s.state, s.rawName = sRawText, n
			break
		}
	}
	return evNone
}

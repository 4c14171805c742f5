package proxy

import (
	"bytes"
	"io"
)

// injector passes an HTML body through unchanged except for one insertion:
// Portier's markup right after the page's <body …> start tag, or right
// after </head> when that comes first. It streams: it reads into the
// caller's buffer, scans the bytes with a small HTML tokenizer state
// machine (enough to skip comments, quoted attribute values and the raw
// text of <script>, <style>, <title> and the like, where "<body" is not a
// tag), and never holds more than one read's worth of bytes. After the
// insertion it only copies.
//
// When neither tag appears, a page loaded as a document (atEOF) gets the
// markup at the end, where browsers put it into the body; anything else
// (a fragment fetched by a script) is left as it is.
type injector struct {
	src     io.ReadCloser
	insert  []byte
	atEOF   bool
	scan    htmlScanner
	done    bool // inserted, or no insertion point can come any more
	pending []byte
	err     error // the source's error, returned once pending is out
}

func (in *injector) Read(p []byte) (int, error) {
	if len(in.pending) > 0 {
		n := copy(p, in.pending)
		in.pending = in.pending[n:]
		return n, nil
	}
	if in.err != nil {
		return 0, in.err
	}
	// Until the insertion, leave room in p for the markup, so that it can
	// go in place (no copy of the page kept aside) when p is large enough.
	buf, room := p, false
	if !in.done && len(p) >= 2*len(in.insert) {
		buf, room = p[:len(p)-len(in.insert)], true
	}
	n, err := in.src.Read(buf)
	if !in.done && n > 0 {
		if i := in.scan.feed(p[:n]); i >= 0 {
			in.done = true
			if room {
				copy(p[i+len(in.insert):], p[i:n])
				copy(p[i:], in.insert)
				n += len(in.insert)
			} else {
				in.pending = append(append(make([]byte, 0, len(in.insert)+n-i), in.insert...), p[i:n]...)
				n = i
			}
		} else if in.scan.state == sGaveUp {
			in.done = true
		}
	}
	if err != nil {
		if err == io.EOF && !in.done && in.atEOF {
			in.done = true
			in.pending = in.insert
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
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\f' || b == '\r' }

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func isLetter(b byte) bool { b = lower(b); return 'a' <= b && b <= 'z' }

// feed scans p and returns the index just after the '>' that ends the
// insertion tag, or -1.
func (s *htmlScanner) feed(p []byte) int {
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch s.state {
		case sData, sRawText:
			// Most bytes are text: jump to the next '<'.
			j := bytes.IndexByte(p[i:], '<')
			if j < 0 {
				return -1
			}
			i += j
			if s.state == sData {
				s.state = sTagOpen
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
				if s.tagEnd() {
					return i + 1
				}
			default:
				s.addName(b)
			}
		case sAttrs:
			switch {
			case b == '>':
				if s.tagEnd() {
					return i + 1
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
				return -1
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
			return -1
		}
	}
	return -1
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

// tagEnd handles the '>' that ends a tag and reports whether it is the
// insertion point.
func (s *htmlScanner) tagEnd() bool {
	s.state = sData
	if s.end {
		return s.nameIs("head")
	}
	if s.nameIs("body") {
		return true
	}
	if s.nameIs("plaintext") {
		s.state = sGaveUp
		return false
	}
	for _, n := range rawTextElements {
		if s.nameIs(n) {
			s.state, s.rawName = sRawText, n
			break
		}
	}
	return false
}

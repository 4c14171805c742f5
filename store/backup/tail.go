package backup

import (
	"crypto/sha256"
	"hash"
	"io"
)

// trailerLen is the size of the SHA-256 trailer.
const trailerLen = sha256.Size

// tailReader passes on every byte of r except the last trailerLen, which
// it holds back as the trailer, and hashes what it passes on. The checksum
// thus covers the whole file whatever its inner structure, and is found
// without trusting any length written inside the file.
type tailReader struct {
	r   io.Reader
	h   hash.Hash
	buf []byte // held back; only its last trailerLen bytes may be the trailer
	eof bool
	err error // a read error of r other than EOF
	n   int64 // bytes passed on
}

func newTailReader(r io.Reader) *tailReader {
	return &tailReader{r: r, h: sha256.New(), buf: make([]byte, 0, trailerLen+32<<10)}
}

func (t *tailReader) Read(p []byte) (int, error) {
	for len(t.buf) <= trailerLen && !t.eof {
		n, err := t.r.Read(t.buf[len(t.buf):cap(t.buf)])
		t.buf = t.buf[:len(t.buf)+n]
		if err == io.EOF {
			t.eof = true
		} else if err != nil {
			t.err = err
			return 0, err
		}
	}
	if len(t.buf) <= trailerLen {
		return 0, io.EOF
	}
	n := copy(p, t.buf[:len(t.buf)-trailerLen])
	t.h.Write(p[:n])
	t.n += int64(n)
	t.buf = t.buf[:copy(t.buf, t.buf[n:])]
	return n, nil
}

// drain reads the rest of r, so the checksum can be checked after the
// content failed to parse.
func (t *tailReader) drain() error {
	_, err := io.Copy(io.Discard, t)
	return err
}

// trailer returns the held-back trailer and whether the file was long
// enough to have one. Only valid once Read returned io.EOF.
func (t *tailReader) trailer() ([]byte, bool) {
	return t.buf, len(t.buf) == trailerLen
}

// matches reports whether the trailer is the SHA-256 of what was passed on.
func (t *tailReader) matches() bool {
	tr, ok := t.trailer()
	if !ok {
		return false
	}
	return string(t.h.Sum(nil)) == string(tr)
}

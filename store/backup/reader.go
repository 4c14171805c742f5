package backup

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Reader reads a backup file. Entries come back as they are decoded; Next
// returns io.EOF only once the end frame's counts and the file's SHA-256
// are verified. Any other error is sticky and wraps one of the package's
// Err values (or is an I/O error of the underlying reader).
type Reader struct {
	tail    *tailReader
	br      *bufio.Reader // over tail: the header line, then the DEFLATE input
	fr      frameReader   // over the decompressed stream
	header  Header
	records int
	files   int
	done    bool
	err     error
	sum     Summary
}

// NewReader reads and checks the magic line and the header.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{tail: newTailReader(r)}
	rd.br = bufio.NewReaderSize(rd.tail, maxHeader)
	head := make([]byte, len(magic))
	n, err := io.ReadFull(rd.br, head)
	if rd.tail.err != nil {
		return nil, fmt.Errorf("backup: read: %w", rd.tail.err)
	}
	if n == 0 && rd.tail.n == 0 && len(rd.tail.buf) == 0 {
		return nil, fmt.Errorf("%w: the file is empty", ErrNotBackup)
	}
	if err != nil {
		// The whole file is head[:n] and the held-back bytes.
		whole := append(head[:n:n], rd.tail.buf...)
		if bytes.HasPrefix(whole, []byte(magic)) || bytes.HasPrefix([]byte(magic), whole) {
			return nil, fmt.Errorf("%w: it has only %d bytes", ErrTruncated, len(whole))
		}
		return nil, notBackup(whole)
	}
	if string(head) != magic {
		return nil, notBackup(head)
	}
	line, err := rd.br.ReadSlice('\n')
	if err != nil {
		return nil, rd.fail(fmt.Errorf("header line: %w", eofErr(err)), "the header")
	}
	if err := json.Unmarshal(line, &rd.header); err != nil {
		return nil, rd.fail(fmt.Errorf("header: %w", err), "the header")
	}
	if err := rd.header.check(); err != nil {
		return nil, rd.fail(err, "the header")
	}
	rd.fr = frameReader{r: bufio.NewReaderSize(flate.NewReader(rd.br), 64<<10)}
	return rd, nil
}

// notBackup names what the file looks like instead, when that is helpful.
func notBackup(head []byte) error {
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return fmt.Errorf("%w: it is gzip-compressed; decompress it first", ErrNotBackup)
	case bytes.HasPrefix(head, []byte("age-encryption.")):
		return fmt.Errorf("%w: it is age-encrypted; decrypt it first", ErrNotBackup)
	case bytes.HasPrefix(head, []byte("-----BEGIN PGP")):
		return fmt.Errorf("%w: it is PGP-encrypted; decrypt it first", ErrNotBackup)
	}
	return fmt.Errorf("%w: it does not start with %q", ErrNotBackup, Format)
}

// Header is the file's header.
func (r *Reader) Header() Header { return r.header }

// Summary is what the file held; valid after Next returned io.EOF.
func (r *Reader) Summary() Summary { return r.sum }

// Next returns the next record or file, or io.EOF after the verified end.
func (r *Reader) Next() (Entry, error) {
	if r.err != nil {
		return Entry{}, r.err
	}
	if r.done {
		return Entry{}, io.EOF
	}
	e, err := r.next()
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return e, err
}

func (r *Reader) next() (Entry, error) {
	where := fmt.Sprintf("entry %d", r.records+r.files+1)
	typ, err := r.fr.r.ReadByte()
	if err != nil {
		return Entry{}, r.fail(eofErr(err), where)
	}
	switch typ {
	case frameRecord:
		rec, err := r.fr.record()
		if err != nil {
			return Entry{}, r.fail(err, where)
		}
		r.records++
		return Entry{Record: rec}, nil
	case frameFile:
		if r.files == maxFiles {
			return Entry{}, r.fail(fmt.Errorf("more than %d files", maxFiles), where)
		}
		f, err := r.fr.file()
		if err != nil {
			return Entry{}, r.fail(err, where)
		}
		r.files++
		return Entry{File: f}, nil
	case frameEnd:
		return Entry{}, r.end()
	}
	return Entry{}, r.fail(fmt.Errorf("unknown frame type 0x%02x", typ), where)
}

// end checks the end frame, that nothing follows it, and the checksum.
func (r *Reader) end() error {
	recs, err := r.fr.uvarint()
	if err != nil {
		return r.fail(err, "the end frame")
	}
	files, err := r.fr.uvarint()
	if err != nil {
		return r.fail(err, "the end frame")
	}
	if recs != uint64(r.records) || files != uint64(r.files) {
		return r.fail(fmt.Errorf("the end frame counts %d records and %d files, the file holds %d and %d",
			recs, files, r.records, r.files), "the end frame")
	}
	if _, err := r.fr.r.ReadByte(); !errors.Is(err, io.EOF) {
		return r.fail(errors.Join(errors.New("data after the end frame"), err), "the end frame")
	}
	if _, err := r.br.ReadByte(); !errors.Is(err, io.EOF) {
		return r.fail(errors.Join(errors.New("data after the compressed stream"), err), "the end")
	}
	if r.tail.err != nil {
		return fmt.Errorf("backup: read: %w", r.tail.err)
	}
	tr, ok := r.tail.trailer()
	if !ok {
		return fmt.Errorf("%w: it ends inside the checksum", ErrTruncated)
	}
	if !r.tail.matches() {
		return ErrChecksum
	}
	r.done = true
	r.sum = Summary{Records: r.records, Files: r.files, Bytes: r.tail.n + trailerLen, SHA256: hex.EncodeToString(tr)}
	return io.EOF
}

// fail turns a parse error into the error to report. An early end of the
// input is truncation. Otherwise the rest of the file is read so the
// checksum can say whether the file was damaged (ErrChecksum) or was
// written that way (ErrCorrupt, ErrVersion, ErrNotBackup).
func (r *Reader) fail(err error, where string) error {
	if r.tail.err != nil {
		return fmt.Errorf("backup: read: %w", r.tail.err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: it ends inside %s, after %d bytes", ErrTruncated, where, r.tail.n+int64(len(r.tail.buf)))
	}
	if derr := r.tail.drain(); derr != nil {
		return fmt.Errorf("backup: read: %w", derr)
	}
	if !r.tail.matches() {
		return fmt.Errorf("%w (%s: %v)", ErrChecksum, where, err)
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion) || errors.Is(err, ErrNotBackup) {
		return err
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, where, err)
}

// Verify reads a whole backup and checks it, calling fn (if not nil) for
// every entry. It returns the header and summary of a good file. After fn
// fails, Verify stops calling it but reads on to the end: a damaged file is
// reported as damaged, not by what fn made of its damaged content; fn's
// error is returned only for an intact file.
func Verify(r io.Reader, fn func(Entry) error) (Header, Summary, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, Summary{}, err
	}
	var fnErr error
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			if fnErr != nil {
				return rd.Header(), Summary{}, fnErr
			}
			return rd.Header(), rd.Summary(), nil
		}
		if err != nil {
			return rd.Header(), Summary{}, err
		}
		if fn != nil && fnErr == nil {
			fnErr = fn(e)
		}
	}
}

package backup

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/portier/portier/store"
)

// Frame types.
const (
	frameRecord byte = 'R'
	frameFile   byte = 'F'
	frameEnd    byte = 'E'
)

// Limits on what a frame may hold. They bound what a hostile file can make
// the reader allocate; real records and files are far smaller.
const (
	maxHeader   = 64 << 10
	maxKind     = 64
	maxID       = 4 << 10
	maxValue    = 64 << 20
	maxPath     = 256
	maxFileData = 16 << 20
	maxFiles    = 1024
)

// Record is one store record.
type Record struct {
	Kind  store.Kind
	ID    string
	Value []byte
}

// File is one file of the data dir, by its slash-separated path relative
// to the data dir.
type File struct {
	Path string
	Mode fs.FileMode // permission bits only
	Data []byte
}

// Entry is what Next returns: exactly one of Record and File is set.
type Entry struct {
	Record *Record
	File   *File
}

// checkRecord validates a record's key, for the writer and the reader alike.
func checkRecord(kind store.Kind, id string, value []byte) error {
	if kind == "" || len(kind) > maxKind || strings.Trim(string(kind), "abcdefghijklmnopqrstuvwxyz_") != "" {
		return fmt.Errorf("bad record kind %q", kind)
	}
	if id == "" || len(id) > maxID || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return fmt.Errorf("bad %s record id %q", kind, id)
	}
	if value == nil || len(value) > maxValue {
		return fmt.Errorf("%s/%s: value missing or larger than %d bytes", kind, id, maxValue)
	}
	return nil
}

// checkFile validates a file entry.
func checkFile(path string, mode fs.FileMode, data []byte) error {
	if len(path) > maxPath || !fs.ValidPath(path) || path == "." {
		return fmt.Errorf("bad file path %q", path)
	}
	if mode&^fs.ModePerm != 0 {
		return fmt.Errorf("file %s: bad mode %v", path, mode)
	}
	if len(data) > maxFileData {
		return fmt.Errorf("file %s is larger than %d bytes", path, maxFileData)
	}
	return nil
}

// appendBytes appends a uvarint length and b.
func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// frameReader decodes frames from the decompressed stream.
type frameReader struct {
	r *bufio.Reader
}

// eofErr turns an end of input inside a frame into ErrUnexpectedEOF.
func eofErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (f *frameReader) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(f.r)
	return v, eofErr(err)
}

// bytes reads a length-prefixed byte string of at most limit bytes. It
// grows the buffer as bytes arrive, so a lying length costs nothing.
func (f *frameReader) bytes(limit int, what string) ([]byte, error) {
	n, err := f.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds the limit of %d", ErrCorrupt, what, n, limit)
	}
	b, err := io.ReadAll(io.LimitReader(f.r, int64(n)))
	if err != nil {
		return nil, err
	}
	if len(b) != int(n) {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

func (f *frameReader) record() (*Record, error) {
	kind, err := f.bytes(maxKind, "record kind")
	if err != nil {
		return nil, err
	}
	id, err := f.bytes(maxID, "record id")
	if err != nil {
		return nil, err
	}
	value, err := f.bytes(maxValue, "record value")
	if err != nil {
		return nil, err
	}
	rec := &Record{Kind: store.Kind(kind), ID: string(id), Value: value}
	if err := checkRecord(rec.Kind, rec.ID, rec.Value); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return rec, nil
}

func (f *frameReader) file() (*File, error) {
	path, err := f.bytes(maxPath, "file path")
	if err != nil {
		return nil, err
	}
	mode, err := f.uvarint()
	if err != nil {
		return nil, err
	}
	data, err := f.bytes(maxFileData, "file data")
	if err != nil {
		return nil, err
	}
	if mode > uint64(fs.ModePerm) {
		return nil, fmt.Errorf("%w: file %q has mode %o", ErrCorrupt, path, mode)
	}
	fl := &File{Path: string(path), Mode: fs.FileMode(mode), Data: data}
	if err := checkFile(fl.Path, fl.Mode, fl.Data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return fl, nil
}

package backup

import (
	"bufio"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"

	"github.com/portier/portier/store"
)

// compressionLevel favours speed: on the embedded store the snapshot's read
// transaction stays open until the last record is compressed.
const compressionLevel = flate.BestSpeed

// Writer writes a backup file. Records and files are streamed: nothing is
// kept in memory beyond the compressor's window. Close finishes the file;
// a file whose Writer was not closed is detected as truncated.
type Writer struct {
	dst     *bufio.Writer
	sum     hash.Hash
	counted *countWriter
	zw      *flate.Writer
	frame   []byte
	records int
	files   int
	closed  bool
}

// countWriter counts and hashes what is written through it.
type countWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// NewWriter writes the magic line and h (Format and Version are filled in)
// to w, and returns a Writer for the records and files.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format, h.Version = Format, Version
	if h.CreatedAt.IsZero() || (h.Backend != BackendBolt && h.Backend != BackendPostgres) {
		return nil, errors.New("backup: header needs created_at and a known source backend")
	}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("backup: header: %w", err)
	}
	if len(line) >= maxHeader {
		return nil, errors.New("backup: header too large")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &countWriter{w: bw, h: sha256.New()}
	if _, err := io.WriteString(cw, magic); err != nil {
		return nil, fmt.Errorf("backup: write: %w", err)
	}
	if _, err := cw.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("backup: write: %w", err)
	}
	zw, err := flate.NewWriter(cw, compressionLevel)
	if err != nil {
		return nil, err
	}
	return &Writer{dst: bw, sum: cw.h, counted: cw, zw: zw}, nil
}

// Record adds one store record.
func (w *Writer) Record(kind store.Kind, id string, value []byte) error {
	if err := checkRecord(kind, id, value); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f := append(w.frame[:0], frameRecord)
	f = appendBytes(f, []byte(kind))
	f = appendBytes(f, []byte(id))
	f = binary.AppendUvarint(f, uint64(len(value)))
	w.frame = f
	if err := w.write(f, value); err != nil {
		return err
	}
	w.records++
	return nil
}

// File adds one data-dir file; path is slash-separated and relative.
func (w *Writer) File(path string, mode fs.FileMode, data []byte) error {
	mode = mode.Perm()
	if err := checkFile(path, mode, data); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if w.files == maxFiles {
		return fmt.Errorf("backup: more than %d files", maxFiles)
	}
	f := append(w.frame[:0], frameFile)
	f = appendBytes(f, []byte(path))
	f = binary.AppendUvarint(f, uint64(mode))
	f = binary.AppendUvarint(f, uint64(len(data)))
	w.frame = f
	if err := w.write(f, data); err != nil {
		return err
	}
	w.files++
	return nil
}

func (w *Writer) write(parts ...[]byte) error {
	if w.closed {
		return errors.New("backup: write after Close")
	}
	for _, p := range parts {
		if _, err := w.zw.Write(p); err != nil {
			return fmt.Errorf("backup: write: %w", err)
		}
	}
	return nil
}

// Close writes the end frame and the checksum and flushes. It does not
// close the underlying writer.
func (w *Writer) Close() (Summary, error) {
	f := append(w.frame[:0], frameEnd)
	f = binary.AppendUvarint(f, uint64(w.records))
	f = binary.AppendUvarint(f, uint64(w.files))
	if err := w.write(f); err != nil {
		return Summary{}, err
	}
	w.closed = true
	if err := w.zw.Close(); err != nil {
		return Summary{}, fmt.Errorf("backup: write: %w", err)
	}
	sum := w.sum.Sum(nil)
	if _, err := w.dst.Write(sum); err != nil {
		return Summary{}, fmt.Errorf("backup: write: %w", err)
	}
	if err := w.dst.Flush(); err != nil {
		return Summary{}, fmt.Errorf("backup: write: %w", err)
	}
	return Summary{Records: w.records, Files: w.files, Bytes: w.counted.n + int64(len(sum)), SHA256: hex.EncodeToString(sum)}, nil
}

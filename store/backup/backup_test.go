package backup

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

var update = flag.Bool("update", false, "rewrite testdata/v1.portier-backup")

var testHeader = Header{CreatedAt: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Backend: BackendBolt, Seq: 42, PortierVersion: "test"}

// sample writes a small backup: three records and two files.
func sample(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sampleRecords() {
		if err := w.Record(r.Kind, r.ID, r.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.File("ca/root.crt", 0o644, []byte("-----BEGIN CERTIFICATE-----\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.File("ca/root.key", 0o600, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 3 || sum.Files != 2 || sum.Bytes != int64(buf.Len()) {
		t.Fatalf("summary %+v for %d bytes", sum, buf.Len())
	}
	return buf.Bytes()
}

func sampleRecords() []Record {
	return []Record{
		{store.KindDevice, "d1", []byte(`{"id":"d1","serial":"SN1"}`)},
		{store.KindUser, "u1", []byte(`{"id":"u1","email":"a@example.com"}`)},
		{store.KindBlob, "assertion/keys", bytes.Repeat([]byte{0, 1, 2, 3}, 5000)},
	}
}

func readAll(t testing.TB, b []byte) (Header, []Entry, Summary, error) {
	t.Helper()
	var got []Entry
	h, sum, err := Verify(bytes.NewReader(b), func(e Entry) error {
		got = append(got, e)
		return nil
	})
	return h, got, sum, err
}

func TestRoundTrip(t *testing.T) {
	b := sample(t)
	h, entries, sum, err := readAll(t, b)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := testHeader
	want.Format, want.Version = Format, Version
	if h != want {
		t.Errorf("header = %+v, want %+v", h, want)
	}
	recs := sampleRecords()
	if len(entries) != 5 {
		t.Fatalf("got %d entries, want 5", len(entries))
	}
	for i, r := range recs {
		got := entries[i].Record
		if got == nil || got.Kind != r.Kind || got.ID != r.ID || !bytes.Equal(got.Value, r.Value) {
			t.Errorf("record %d = %+v, want %+v", i, got, r)
		}
	}
	if f := entries[4].File; f == nil || f.Path != "ca/root.key" || f.Mode != 0o600 || string(f.Data) != "secret" {
		t.Errorf("file = %+v", entries[4].File)
	}
	digest := sha256.Sum256(b[:len(b)-trailerLen])
	if sum.SHA256 != fmt.Sprintf("%x", digest) || sum.Bytes != int64(len(b)) {
		t.Errorf("summary = %+v", sum)
	}
	if !bytes.HasPrefix(b, []byte("portier-backup\n{\"format\":\"portier-backup\",\"version\":1,")) {
		t.Errorf("the file does not start with a readable header: %q", b[:60])
	}
}

func TestEmptyBackup(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, entries, sum, err := readAll(t, buf.Bytes()); err != nil || len(entries) != 0 || sum.Records != 0 {
		t.Errorf("empty backup: %v %v %+v", err, entries, sum)
	}
}

func TestEveryTruncationIsDetected(t *testing.T) {
	b := sample(t)
	for n := range len(b) {
		_, _, _, err := readAll(t, b[:n])
		want := ErrTruncated
		if n == 0 {
			want = ErrNotBackup
		}
		if !errors.Is(err, want) {
			t.Fatalf("truncated to %d of %d bytes: err = %v, want %v", n, len(b), err, want)
		}
	}
}

func TestEveryFlippedByteIsDetected(t *testing.T) {
	b := sample(t)
	checksum := 0
	for i := range b {
		for _, mask := range []byte{0x01, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= mask
			_, _, _, err := readAll(t, c)
			switch {
			case err == nil:
				t.Fatalf("byte %d ^ %#x: the damaged file was accepted", i, mask)
			case i < len(magic):
				if !errors.Is(err, ErrNotBackup) {
					t.Fatalf("byte %d (magic) ^ %#x: err = %v, want ErrNotBackup", i, mask, err)
				}
			case errors.Is(err, ErrChecksum):
				checksum++
			case !errors.Is(err, ErrTruncated):
				// A flip can make a length run past the end; anything
				// else must be the checksum.
				t.Fatalf("byte %d ^ %#x: err = %v, want ErrChecksum", i, mask, err)
			}
		}
	}
	t.Logf("%d of %d flips reported as checksum mismatches, the rest as truncation or not-a-backup", checksum, 2*len(b))
	if checksum < len(b) {
		t.Errorf("only %d of %d flips reported as checksum mismatches", checksum, 2*len(b))
	}
	// The last byte of the compressed stream ends in padding bits that
	// the decompressor ignores: only the checksum notices them.
	c := bytes.Clone(b)
	c[len(c)-trailerLen-1] ^= 0x80
	if _, _, _, err := readAll(t, c); !errors.Is(err, ErrChecksum) {
		t.Errorf("flipped padding bit: err = %v, want ErrChecksum", err)
	}
}

func TestAppendedDataIsDetected(t *testing.T) {
	b := append(sample(t), 'x')
	if _, _, _, err := readAll(t, b); !errors.Is(err, ErrChecksum) {
		t.Errorf("err = %v, want ErrChecksum", err)
	}
}

// craft builds a file with a valid checksum around any header and frames.
func craft(header string, frames []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString(magic + header + "\n")
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	zw.Write(frames)
	zw.Close()
	sum := sha256.Sum256(buf.Bytes())
	return append(buf.Bytes(), sum[:]...)
}

const goodHeader = `{"format":"portier-backup","version":1,"created_at":"2026-05-01T12:00:00Z","source_backend":"bolt","store_seq":1}`

func TestCraftedFilesAreRefused(t *testing.T) {
	rec := func(kind, id, value string) []byte {
		f := []byte{frameRecord}
		f = appendBytes(f, []byte(kind))
		f = appendBytes(f, []byte(id))
		return appendBytes(f, []byte(value))
	}
	file := func(path string, mode byte) []byte {
		f := []byte{frameFile}
		f = appendBytes(f, []byte(path))
		return appendBytes(append(f, mode), []byte("x"))
	}
	end := func(r, f byte) []byte { return []byte{frameEnd, r, f} }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		header string
		frames []byte
		want   error
		text   string
	}{
		{"newer version", strings.Replace(goodHeader, `"version":1`, `"version":2`, 1), end(0, 0), ErrVersion, "upgrade Portier"},
		{"other format", strings.Replace(goodHeader, `"portier-backup"`, `"other"`, 1), end(0, 0), ErrNotBackup, "format"},
		{"bad json", `{"format":`, end(0, 0), ErrCorrupt, "header"},
		{"unknown backend", strings.Replace(goodHeader, `"bolt"`, `"mysql"`, 1), end(0, 0), ErrCorrupt, "mysql"},
		{"no end frame", goodHeader, rec("device", "d1", "{}"), ErrTruncated, "ends inside"},
		{"wrong counts", goodHeader, cat(rec("device", "d1", "{}"), end(2, 0)), ErrCorrupt, "counts"},
		{"unknown frame", goodHeader, []byte{'Z'}, ErrCorrupt, "unknown frame"},
		{"after end", goodHeader, cat(end(0, 0), []byte("x")), ErrCorrupt, "after the end"},
		{"bad kind", goodHeader, cat(rec("Device!", "d1", "{}"), end(1, 0)), ErrCorrupt, "kind"},
		{"empty id", goodHeader, cat(rec("device", "", "{}"), end(1, 0)), ErrCorrupt, "id"},
		{"escaping path", goodHeader, cat(file("../etc/passwd", 0o6), end(0, 1)), ErrCorrupt, "path"},
		{"absolute path", goodHeader, cat(file("/etc/passwd", 0o6), end(0, 1)), ErrCorrupt, "path"},
		{"huge length", goodHeader, []byte{frameRecord, 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrCorrupt, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := readAll(t, craft(tc.header, tc.frames))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestOtherFilesAreNamed(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(sample(t))
	zw.Close()
	tests := map[string][]byte{
		"gzip":                gz.Bytes(),
		"age-encrypted":       []byte("age-encryption.org/v1\n-> X25519 abc\n" + strings.Repeat("x", 100)),
		"does not start with": []byte(strings.Repeat("hello world ", 10)),
	}
	for text, b := range tests {
		_, _, _, err := readAll(t, b)
		if !errors.Is(err, ErrNotBackup) || !strings.Contains(err.Error(), text) {
			t.Errorf("err = %v, want ErrNotBackup mentioning %q", err, text)
		}
	}
}

func TestWriterRefusesBadInput(t *testing.T) {
	if _, err := NewWriter(io.Discard, Header{Backend: BackendBolt}); err == nil {
		t.Error("NewWriter accepted a header without created_at")
	}
	w, err := NewWriter(io.Discard, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"nil value": w.Record(store.KindDevice, "d", nil),
		"empty id":  w.Record(store.KindDevice, "", []byte("{}")),
		"escaping":  w.File("../x", 0o600, nil),
		"absolute":  w.File("/x", 0o600, nil),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestGoldenV1 reads a version 1 file written by an earlier build: a
// format change that breaks old backups fails here. Rewrite the file only
// together with a new Version.
func TestGoldenV1(t *testing.T) {
	path := filepath.Join("testdata", "v1.portier-backup")
	if *update {
		if err := os.WriteFile(path, sample(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, entries, sum, err := readAll(t, b)
	if err != nil {
		t.Fatalf("golden v1 file: %v", err)
	}
	if h.Seq != 42 || h.Backend != BackendBolt || len(entries) != 5 || sum.Records != 3 || sum.Files != 2 {
		t.Errorf("golden v1 file: header %+v, %d entries, summary %+v", h, len(entries), sum)
	}
}

// A damaged file whose content still decodes must be reported as damaged,
// not by what the caller made of the altered content.
func TestVerifyReportsDamageBeforeCallerErrors(t *testing.T) {
	b := sample(t)
	callerErr := errors.New("caller refused an entry")
	for i := len(magic) + 1; i < len(b); i++ {
		c := bytes.Clone(b)
		c[i] ^= 0x04
		_, _, err := Verify(bytes.NewReader(c), func(Entry) error { return callerErr })
		if errors.Is(err, callerErr) {
			t.Fatalf("byte %d flipped: got the caller's error, not the damage", i)
		}
	}
	if _, _, err := Verify(bytes.NewReader(b), func(Entry) error { return callerErr }); !errors.Is(err, callerErr) {
		t.Errorf("intact file: err = %v, want the caller's error", err)
	}
}

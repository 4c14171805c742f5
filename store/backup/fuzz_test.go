package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader, which parses untrusted
// files: it must never panic, must fail with one of the package's errors,
// and what it accepts must survive a rewrite unchanged.
func FuzzReader(f *testing.F) {
	good := sample(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte(magic))
	f.Add(craft(goodHeader, []byte{frameEnd, 0, 0}))
	f.Add(craft(goodHeader, []byte{frameRecord, 0xff, 0xff, 0xff, 0xff, 0x0f}))
	f.Add(craft(goodHeader, append(appendBytes(appendBytes([]byte{frameFile}, []byte("ca/x")), nil), frameEnd, 0, 1)))
	if b, err := os.ReadFile(filepath.Join("testdata", "v1.portier-backup")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []Entry
		h, sum, err := Verify(bytes.NewReader(data), func(e Entry) error {
			if (e.Record == nil) == (e.File == nil) {
				t.Fatalf("entry with both or neither of record and file: %+v", e)
			}
			entries = append(entries, e)
			return nil
		})
		if err != nil {
			for _, known := range []error{ErrNotBackup, ErrVersion, ErrTruncated, ErrChecksum, ErrCorrupt} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("error %v wraps none of the package's errors", err)
		}
		if sum.Bytes != int64(len(data)) || sum.Records+sum.Files != len(entries) {
			t.Fatalf("accepted %d bytes with summary %+v and %d entries", len(data), sum, len(entries))
		}
		// Whatever is accepted can be written again and reads back the same.
		var buf bytes.Buffer
		w, err := NewWriter(&buf, h)
		if err != nil {
			t.Fatalf("rewrite header %+v: %v", h, err)
		}
		for _, e := range entries {
			if e.Record != nil {
				err = w.Record(e.Record.Kind, e.Record.ID, e.Record.Value)
			} else {
				err = w.File(e.File.Path, e.File.Mode, e.File.Data)
			}
			if err != nil {
				t.Fatalf("rewrite of an accepted entry: %v", err)
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, sum2, err := Verify(&buf, nil); err != nil || sum2.Records != sum.Records || sum2.Files != sum.Files {
			t.Fatalf("rewritten file: %v, %+v", err, sum2)
		}
	})
}

// FuzzFrames fuzzes the decompressed frames behind a valid header and
// checksum, which random bytes in FuzzReader rarely get past.
func FuzzFrames(f *testing.F) {
	f.Add([]byte{frameEnd, 0, 0})
	f.Add(append(appendBytes(appendBytes(appendBytes([]byte{frameRecord}, []byte("device")), []byte("d1")), []byte("{}")), frameEnd, 1, 0))
	f.Add(append(appendBytes(append(appendBytes([]byte{frameFile}, []byte("ca/root.crt")), 0xa4, 0x03), []byte("pem")), frameEnd, 0, 1))
	f.Add([]byte{frameRecord, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, frames []byte) {
		_, sum, err := Verify(bytes.NewReader(craft(goodHeader, frames)), nil)
		if err == nil {
			if sum.Records > len(frames) || sum.Files > len(frames) {
				t.Fatalf("summary %+v from %d bytes of frames", sum, len(frames))
			}
			return
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("frames %q: err = %v, want ErrCorrupt or ErrTruncated", frames, err)
		}
	})
}

package agent

import (
	"bytes"
	"encoding/asn1"
	"encoding/pem"
	"strings"
	"testing"
)

// TestTPMKeyFileRoundTrip: device.key of a TPM key is a TSS2 PRIVATE KEY
// (loadable key, empty auth, under the SRK, TPM2B areas) read back to the
// same areas; what the agent never writes is refused with a clear error.
func TestTPMKeyFileRoundTrip(t *testing.T) {
	pub, priv := []byte{0x00, 0x23, 0x00, 0x0b, 1, 2, 3}, []byte{0x00, 0x20, 9, 9, 9}
	file, err := encodeTPMKeyFile(pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(file)
	if blk == nil || blk.Type != "TSS2 PRIVATE KEY" {
		t.Fatalf("not a TSS2 PEM:\n%s", file)
	}
	var raw struct {
		Type      asn1.ObjectIdentifier
		EmptyAuth bool `asn1:"optional,explicit,tag:0"`
		Parent    int64
		Public    []byte
		Private   []byte
	}
	if _, err := asn1.Unmarshal(blk.Bytes, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Type.String() != "2.23.133.10.1.3" || !raw.EmptyAuth || raw.Parent != 0x81000001 ||
		!bytes.Equal(raw.Public, append([]byte{0, byte(len(pub))}, pub...)) || !bytes.Equal(raw.Private, append([]byte{0, byte(len(priv))}, priv...)) {
		t.Fatalf("TSS2 fields %+v", raw)
	}
	gp, gv, err := decodeTPMKeyFile(blk.Bytes)
	if err != nil || !bytes.Equal(gp, pub) || !bytes.Equal(gv, priv) {
		t.Fatalf("decoded %x %x %v", gp, gv, err)
	}

	for name, c := range map[string]struct {
		change func(r *tss2Key)
		want   string
	}{
		"other parent":    {func(r *tss2Key) { r.Parent = 0x40000001 }, "not the storage root key"},
		"password":        {func(r *tss2Key) { r.EmptyAuth = false }, "password"},
		"other type":      {func(r *tss2Key) { r.Type = asn1.ObjectIdentifier{2, 23, 133, 10, 1, 4} }, "not a loadable key"},
		"bad public size": {func(r *tss2Key) { r.Public = []byte{0, 9, 1} }, "public area"},
		"empty private":   {func(r *tss2Key) { r.Private = []byte{0, 0} }, "private area"},
	} {
		r := tss2Key{Type: oidLoadableKey, EmptyAuth: true, Parent: srkHandle, Public: tpm2b(pub), Private: tpm2b(priv)}
		c.change(&r)
		der, err := asn1.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := decodeTPMKeyFile(der); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
	if _, _, err := decodeTPMKeyFile(append(append([]byte{}, blk.Bytes...), 0)); err == nil {
		t.Error("trailing data accepted")
	}
}

// FuzzDecodeTPMKeyFile: device.key is read at every start; no input
// panics, and what decodes encodes back to the same areas.
func FuzzDecodeTPMKeyFile(f *testing.F) {
	file, _ := encodeTPMKeyFile([]byte{1, 2, 3}, []byte{4, 5})
	blk, _ := pem.Decode(file)
	f.Add(blk.Bytes)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		pub, priv, err := decodeTPMKeyFile(der)
		if err != nil {
			return
		}
		again, err := encodeTPMKeyFile(pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(again)
		p2, v2, err := decodeTPMKeyFile(b.Bytes)
		if err != nil || !bytes.Equal(p2, pub) || !bytes.Equal(v2, priv) {
			t.Fatalf("round trip changed the key: %v", err)
		}
	})
}

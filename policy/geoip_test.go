package policy

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A minimal MaxMind DB writer, enough to test the reader wrapper without a
// binary fixture: an IPv4 search tree with 24-bit records, a data section
// and the metadata map. See https://maxmind.github.io/MaxMind-DB/.

type mmdbWriter struct{ buf bytes.Buffer }

func (w *mmdbWriter) ctrl(typ, size int) {
	if typ > 7 {
		w.buf.WriteByte(byte(size))
		w.buf.WriteByte(byte(typ - 7))
		return
	}
	w.buf.WriteByte(byte(typ<<5 | size))
}

func (w *mmdbWriter) str(s string) { w.ctrl(2, len(s)); w.buf.WriteString(s) }

func (w *mmdbWriter) uint(typ int, v uint64) {
	var b []byte
	for ; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	w.ctrl(typ, len(b))
	w.buf.Write(b)
}

// value writes strings, uint16s (as int), uint32s, uint64s, []string and
// map[string]any with keys in a fixed order given by a "" key list.
func (w *mmdbWriter) value(v any) {
	switch v := v.(type) {
	case string:
		w.str(v)
	case int:
		w.uint(5, uint64(v))
	case uint32:
		w.uint(6, uint64(v))
	case uint64:
		w.uint(9, v)
	case []string:
		w.ctrl(11, len(v))
		for _, s := range v {
			w.str(s)
		}
	case [][2]any: // ordered map
		w.ctrl(7, len(v))
		for _, kv := range v {
			w.str(kv[0].(string))
			w.value(kv[1])
		}
	}
}

type trieNode struct {
	kid  [2]*trieNode
	data [2]int // data offset + 1, 0 = none
}

func buildMMDB(t testing.TB, entries map[string]string) []byte {
	t.Helper()
	var data mmdbWriter
	root := &trieNode{}
	for cidr, cc := range entries {
		off := data.buf.Len()
		data.value([][2]any{{"country", [][2]any{{"iso_code", cc}}}})
		p := netip.MustParsePrefix(cidr)
		a := p.Addr().As4()
		ip := binary.BigEndian.Uint32(a[:])
		n := root
		for i := 0; i < p.Bits(); i++ {
			bit := (ip >> (31 - i)) & 1
			if i == p.Bits()-1 {
				n.data[bit] = off + 1
				break
			}
			if n.kid[bit] == nil {
				n.kid[bit] = &trieNode{}
			}
			n = n.kid[bit]
		}
	}
	var nodes []*trieNode
	index := map[*trieNode]int{}
	var walk func(*trieNode)
	walk = func(n *trieNode) {
		index[n] = len(nodes)
		nodes = append(nodes, n)
		for _, k := range n.kid {
			if k != nil {
				walk(k)
			}
		}
	}
	walk(root)
	count := len(nodes)
	var out bytes.Buffer
	for _, n := range nodes {
		for b := 0; b < 2; b++ {
			rec := count // empty
			switch {
			case n.kid[b] != nil:
				rec = index[n.kid[b]]
			case n.data[b] != 0:
				rec = count + 16 + n.data[b] - 1
			}
			out.Write([]byte{byte(rec >> 16), byte(rec >> 8), byte(rec)})
		}
	}
	out.Write(make([]byte, 16))
	out.Write(data.buf.Bytes())
	out.WriteString("\xAB\xCD\xEFMaxMind.com")
	var meta mmdbWriter
	meta.value([][2]any{
		{"binary_format_major_version", 2},
		{"binary_format_minor_version", 0},
		{"build_epoch", uint64(1700000000)},
		{"database_type", "Portier-Test-Country"},
		{"description", [][2]any{{"en", "test"}}},
		{"ip_version", 4},
		{"languages", []string{"en"}},
		{"node_count", uint32(count)},
		{"record_size", 24},
	})
	out.Write(meta.buf.Bytes())
	return out.Bytes()
}

func TestGeoIPLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	db := buildMMDB(t, map[string]string{"81.0.0.0/8": "FR", "5.62.60.0/24": "KP", "203.0.113.0/24": "DE"})
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := OpenGeoIP(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.DatabaseType() != "Portier-Test-Country" {
		t.Errorf("type %q", g.DatabaseType())
	}
	for ip, want := range map[string]string{
		"81.2.3.4":        "FR",
		"5.62.60.9":       "KP",
		"5.62.61.9":       "",
		"203.0.113.255":   "DE",
		"::ffff:81.0.0.1": "FR",
		"10.0.0.1":        "",
		"2001:db8::1":     "", // an IPv6 address in an IPv4 database: unknown, not an error
	} {
		if got := g.Country(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Country(%s) = %q, want %q", ip, got, want)
		}
	}
	if got := g.Country(netip.Addr{}); got != "" {
		t.Errorf("invalid address gave %q", got)
	}
}

func TestGeoIPOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := buildMMDB(t, map[string]string{"81.0.0.0/8": "FR"})
	tests := map[string]string{
		filepath.Join(dir, "missing.mmdb"):                   "no such file",
		write("empty.mmdb", nil):                             "empty",
		write("text.mmdb", []byte("this is not a database")): "invalid MaxMind DB",
		write("truncated.mmdb", good[len(good)-40:]):         "GeoIP database",
		write("v3.mmdb", bytes.Replace(good, []byte("binary_format_major_version\xa1\x02"), []byte("binary_format_major_version\xa1\x03"), 1)): "version 3",
	}
	for path, want := range tests {
		g, err := OpenGeoIP(path)
		if err == nil {
			g.Close()
			t.Errorf("%s: opened", filepath.Base(path))
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q, want it to name the file and say %q", filepath.Base(path), err, want)
		}
	}
}

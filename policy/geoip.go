package policy

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoIP resolves a client address to an ISO 3166-1 alpha-2 country code,
// or "" when the location is unknown. The proxy calls it once per request
// and puts the answer in Input.Country; evaluation itself never looks up.
type GeoIP interface {
	Country(ip netip.Addr) string
}

var _ GeoIP = (*MMDB)(nil)

// MMDB is a GeoIP backed by an operator-supplied MaxMind DB file, such as
// GeoLite2-Country or GeoIP2-City: any database whose records carry
// country.iso_code (or registered_country.iso_code). It is safe for
// concurrent use.
type MMDB struct {
	r *maxminddb.Reader
}

// OpenGeoIP opens a .mmdb file (memory-mapped). It fails clearly on a
// missing, empty or corrupt file, and on a database that is not the MaxMind
// DB format version 2.
func OpenGeoIP(path string) (*MMDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open GeoIP database %s: %w", path, err)
	}
	if v := r.Metadata.BinaryFormatMajorVersion; v != 2 {
		_ = r.Close()
		return nil, fmt.Errorf("open GeoIP database %s: unsupported MaxMind DB format version %d", path, v)
	}
	return &MMDB{r: r}, nil
}

// countryRecord is the part of a GeoIP2/GeoLite2 record read here.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the address's country code, falling back to the country
// where the network is registered; "" when the database has no answer.
func (m *MMDB) Country(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	var rec countryRecord
	if err := m.r.Lookup(ip.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	if rec.Country.ISOCode != "" {
		return rec.Country.ISOCode
	}
	return rec.RegisteredCountry.ISOCode
}

// DatabaseType is the database's self-declared type, e.g. GeoLite2-Country,
// for logs at start-up.
func (m *MMDB) DatabaseType() string { return m.r.Metadata.DatabaseType }

// Close releases the memory map.
func (m *MMDB) Close() error { return m.r.Close() }

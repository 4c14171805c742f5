package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"strings"
)

// Key limits for certificate requests.
const (
	minRSABits = 2048
	maxRSABits = 8192
	// MaxCSRSize bounds the encoded request ParseCSR accepts.
	MaxCSRSize = 64 << 10
	// maxDeviceIDLen bounds a device id.
	maxDeviceIDLen = 128
)

// deviceURIPrefix starts the URI SAN naming a device in its certificate.
const deviceURIPrefix = "urn:portier:device:"

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// DeviceURI is the URI SAN that names a device in its certificate.
func DeviceURI(deviceID string) string { return deviceURIPrefix + deviceID }

// DeviceIDFromCert returns the device id a certificate was issued to, from
// its urn:portier:device: URI SAN.
func DeviceIDFromCert(crt *x509.Certificate) (string, bool) {
	var id string
	found := false
	for _, u := range crt.URIs {
		if u.Scheme == "urn" && strings.HasPrefix(u.Opaque, "portier:device:") {
			if found {
				return "", false // two device names: ambiguous, trust neither
			}
			id, found = strings.TrimPrefix(u.Opaque, "portier:device:"), true
		}
	}
	if !found || checkDeviceID(id) != nil {
		return "", false
	}
	return id, true
}

// checkDeviceID accepts 1 to 128 characters from [A-Za-z0-9._~-], so the id
// is safe in a URI, a subject and a log line as is.
func checkDeviceID(id string) error {
	if id == "" || len(id) > maxDeviceIDLen {
		return fmt.Errorf("%w: must be 1 to %d characters", ErrInvalidDeviceID, maxDeviceIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '~' || r == '-'
		if !ok {
			return fmt.Errorf("%w: %q has a character outside [A-Za-z0-9._~-]", ErrInvalidDeviceID, id)
		}
	}
	return nil
}

// ParseCSR reads a certificate request in PEM ("CERTIFICATE REQUEST") or
// DER form. It does not validate it; see ValidateCSR.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidCSR)
	}
	if len(data) > MaxCSRSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidCSR, MaxCSRSize)
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("%w: PEM block is %q, want CERTIFICATE REQUEST", ErrInvalidCSR, block.Type)
		}
		data = block.Bytes
	}
	csr, err := x509.ParseCertificateRequest(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCSR, err)
	}
	return csr, nil
}

// ValidateCSR checks a device's certificate request: the signature must
// verify (proof of possession), the key must be ECDSA P-256 or P-384,
// Ed25519, or RSA of 2048 to 8192 bits, and the request may name nothing
// but the device itself: an empty subject common name or deviceID, and no
// subject alternative name other than DeviceURI(deviceID). Other subject
// fields and requested extensions are ignored: Portier writes the
// certificate's names and extensions itself.
func ValidateCSR(csr *x509.CertificateRequest, deviceID string) error {
	if csr == nil {
		return fmt.Errorf("%w: missing", ErrInvalidCSR)
	}
	if err := checkDeviceID(deviceID); err != nil {
		return err
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return err
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("%w: signature does not verify: %v", ErrInvalidCSR, err)
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != deviceID {
		return fmt.Errorf("%w: subject common name %q is not the device id %q", ErrInvalidCSR, cn, deviceID)
	}
	switch {
	case len(csr.DNSNames) > 0:
		return fmt.Errorf("%w: unexpected DNS name %q", ErrInvalidCSR, csr.DNSNames[0])
	case len(csr.IPAddresses) > 0:
		return fmt.Errorf("%w: unexpected IP address %s", ErrInvalidCSR, csr.IPAddresses[0])
	case len(csr.EmailAddresses) > 0:
		return fmt.Errorf("%w: unexpected email address %q", ErrInvalidCSR, csr.EmailAddresses[0])
	}
	want := DeviceURI(deviceID)
	for _, u := range csr.URIs {
		if u.String() != want {
			return fmt.Errorf("%w: unexpected URI %q (only %q is allowed)", ErrInvalidCSR, u, want)
		}
	}
	return checkOtherSANs(csr)
}

// checkKey refuses keys that are weak or that common TLS stacks do not
// support for client certificates.
func checkKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return nil
		}
		return fmt.Errorf("%w: unsupported elliptic curve %s (use P-256 or P-384)", ErrInvalidCSR, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", ErrInvalidCSR, n, minRSABits, maxRSABits)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	case nil:
		return fmt.Errorf("%w: unsupported public key algorithm", ErrInvalidCSR)
	}
	return fmt.Errorf("%w: unsupported public key type %T", ErrInvalidCSR, pub)
}

// checkOtherSANs refuses SAN types the standard library does not parse
// (otherName, directoryName, registeredID, ...), which would otherwise pass
// unseen.
func checkOtherSANs(csr *x509.CertificateRequest) error {
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &seq); err != nil || len(rest) > 0 || !seq.IsCompound {
			return fmt.Errorf("%w: malformed subject alternative name extension", ErrInvalidCSR)
		}
		for rest := seq.Bytes; len(rest) > 0; {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return fmt.Errorf("%w: malformed subject alternative name extension", ErrInvalidCSR)
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 6 { // 6: uniformResourceIdentifier
				return fmt.Errorf("%w: unexpected subject alternative name of type %d", ErrInvalidCSR, gn.Tag)
			}
		}
	}
	return nil
}

package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"

	"github.com/portier/portier/store"
)

// OIDKeyInfo is the certificate extension in which Portier's CA writes what
// it knows about the certificate's key: where the key lives and who says so,
// and what the certificate is for. It sits in the 2.25 arc (ITU-T X.667,
// identifiers derived from UUIDs, which need no registration) with a random
// number cut to 31 bits, the longest arc Go's certificate parser reads; it
// is not critical, and is read only by Portier. Because the CA signs it, a device
// cannot change it; because it is in the certificate, the proxy reads it
// from the presented chain without a store lookup.
var OIDKeyInfo = asn1.ObjectIdentifier{2, 25, 1435331360}

// Purposes of a device certificate (KeyInfo.Purpose).
const (
	// PurposeAgent: the certificate of the agent's own key, for its calls
	// (posture, actions, renewal) and, where the key can be copied, for
	// the browsers too.
	PurposeAgent = "agent"
	// PurposeBrowser: a certificate for a key of its own kept where a
	// person's browsers find it (a Windows person's TPM key, an NSS
	// database when the agent's key cannot leave the TPM).
	PurposeBrowser = "browser"
)

// KeyInfo is what a device certificate says about its key.
type KeyInfo struct {
	// Protection is store.KeyHardware or store.KeySoftware ("" = software).
	Protection string
	// Source is who says so: store.KeySourceAgent (the agent's statement)
	// or store.KeySourceTPM (verified TPM key attestation); "" when nothing
	// was stated.
	Source string
	// Purpose is PurposeAgent ("" = agent) or PurposeBrowser.
	Purpose string
	// Person names, for a browser certificate, the local account whose
	// store holds the key (as the agent reported it); "" otherwise.
	Person string
}

// Hardware reports whether the key is hardware-bound (by any source).
func (k KeyInfo) Hardware() bool { return k.Protection == store.KeyHardware }

// Attested reports whether the key is hardware-bound and Portier verified
// it (TPM key attestation).
func (k KeyInfo) Attested() bool { return k.Hardware() && k.Source == store.KeySourceTPM }

// keyInfoASN1 is the extension's value.
type keyInfoASN1 struct {
	Protection string `asn1:"utf8"`
	Source     string `asn1:"utf8"`
	Purpose    string `asn1:"utf8"`
	Person     string `asn1:"utf8"`
}

// maxKeyInfoField bounds each field of the extension.
const maxKeyInfoField = 256

// validate refuses values Portier does not write.
func (k KeyInfo) validate() error {
	switch k.Protection {
	case "", store.KeyHardware, store.KeySoftware:
	default:
		return fmt.Errorf("ca: key protection %q: want %s or %s", k.Protection, store.KeyHardware, store.KeySoftware)
	}
	switch k.Source {
	case "", store.KeySourceAgent, store.KeySourceTPM:
	default:
		return fmt.Errorf("ca: key protection source %q: want %s or %s", k.Source, store.KeySourceAgent, store.KeySourceTPM)
	}
	switch k.Purpose {
	case "", PurposeAgent, PurposeBrowser:
	default:
		return fmt.Errorf("ca: certificate purpose %q: want %s or %s", k.Purpose, PurposeAgent, PurposeBrowser)
	}
	if len(k.Person) > maxKeyInfoField {
		return fmt.Errorf("ca: person name is longer than %d bytes", maxKeyInfoField)
	}
	return nil
}

// extension encodes k as a certificate extension.
func (k KeyInfo) extension() (pkix.Extension, error) {
	if err := k.validate(); err != nil {
		return pkix.Extension{}, err
	}
	v, err := asn1.Marshal(keyInfoASN1(k))
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("ca: encode key info: %w", err)
	}
	return pkix.Extension{Id: OIDKeyInfo, Value: v}, nil
}

// templateExtension is the extension as smallstep's JSON certificate
// template spells it.
func (k KeyInfo) templateExtension() (map[string]any, error) {
	ext, err := k.extension()
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": ext.Id.String(), "critical": false,
		"value": base64.StdEncoding.EncodeToString(ext.Value)}, nil
}

// KeyInfoFromCert reads a certificate's KeyInfo. A certificate without the
// extension (issued before it existed) is a software agent certificate; a
// malformed or unknown value counts as software too, so nothing a
// certificate fails to say clearly raises its standing.
func KeyInfoFromCert(crt *x509.Certificate) KeyInfo {
	for _, ext := range crt.Extensions {
		if !ext.Id.Equal(OIDKeyInfo) {
			continue
		}
		var v keyInfoASN1
		rest, err := asn1.Unmarshal(ext.Value, &v)
		k := KeyInfo(v)
		if err != nil || len(rest) != 0 || k.validate() != nil {
			return KeyInfo{Protection: store.KeySoftware}
		}
		if k.Protection == "" {
			k.Protection = store.KeySoftware
		}
		if k.Purpose == "" {
			k.Purpose = PurposeAgent
		}
		return k
	}
	return KeyInfo{Protection: store.KeySoftware, Purpose: PurposeAgent}
}

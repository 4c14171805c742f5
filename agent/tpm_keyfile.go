package agent

import (
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// A device key in the TPM is kept in device.key as the TPM's wrapped blob:
// the key's public area and its private area encrypted by the TPM's
// storage root key (SRK), which never leaves the TPM. The file is useless
// on any other TPM. It uses the "TSS2 PRIVATE KEY" PEM form
// (draft-bottomley-tpm2-keys), which the OpenSSL tpm2 provider and the
// tpm2-tss-engine read too; a software key stays "PRIVATE KEY" (PKCS #8),
// so the loader tells the two apart by the PEM type.

// PEM types of device.key.
const (
	pemSoftwareKey = "PRIVATE KEY"
	pemTPMKey      = "TSS2 PRIVATE KEY"
)

// oidLoadableKey is the TSS2 key type of a key loaded with TPM2_Load under
// its parent (id-loadablekey).
var oidLoadableKey = asn1.ObjectIdentifier{2, 23, 133, 10, 1, 3}

// srkHandle is the persistent handle of the storage root key the agent's
// TPM keys are created under: the TCG's standard RSA SRK handle, where
// go-attestation keeps its parent key (and creates it when missing).
const srkHandle = 0x81000001

// tss2Key is the TSS2 PRIVATE KEY structure (the optional policy, secret
// and authPolicy fields are never written, and refused when read).
type tss2Key struct {
	Type      asn1.ObjectIdentifier
	EmptyAuth bool `asn1:"optional,explicit,tag:0"`
	Parent    int64
	Public    []byte // TPM2B_PUBLIC
	Private   []byte // TPM2B_PRIVATE
}

// encodeTPMKeyFile returns device.key for a TPM key whose public and
// private areas (TPM2B contents, as TPM2_Create returns them) are pub and
// priv, created under the SRK.
func encodeTPMKeyFile(pub, priv []byte) ([]byte, error) {
	if len(pub) > 0xffff || len(priv) > 0xffff {
		return nil, errors.New("agent: TPM key blob too large")
	}
	der, err := asn1.Marshal(tss2Key{Type: oidLoadableKey, EmptyAuth: true, Parent: srkHandle,
		Public: tpm2b(pub), Private: tpm2b(priv)})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTPMKey, Bytes: der}), nil
}

// tpm2b prefixes b with its 16-bit big-endian size.
func tpm2b(b []byte) []byte {
	out := make([]byte, 2, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	return append(out, b...)
}

// untpm2b strips the size prefix, checking it.
func untpm2b(b []byte) ([]byte, error) {
	if len(b) < 2 || int(binary.BigEndian.Uint16(b)) != len(b)-2 || len(b) == 2 {
		return nil, errors.New("malformed TPM2B field")
	}
	return b[2:], nil
}

// decodeTPMKeyFile reads a TSS2 PRIVATE KEY block: the key's public and
// private areas (without their size prefixes). Only what the agent writes
// is accepted: a loadable key with no password and no policy, under the SRK.
func decodeTPMKeyFile(der []byte) (pub, priv []byte, err error) {
	var k tss2Key
	rest, err := asn1.Unmarshal(der, &k)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %s is not a TSS2 key: %w", KeyFile, err)
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("agent: %s has trailing data", KeyFile)
	}
	if !k.Type.Equal(oidLoadableKey) {
		return nil, nil, fmt.Errorf("agent: %s is a TSS2 key of type %s, not a loadable key", KeyFile, k.Type)
	}
	if !k.EmptyAuth {
		return nil, nil, fmt.Errorf("agent: %s is a TPM key with a password, which the agent does not use", KeyFile)
	}
	if k.Parent != srkHandle {
		return nil, nil, fmt.Errorf("agent: %s is a TPM key under parent 0x%x, not the storage root key 0x%x", KeyFile, k.Parent, srkHandle)
	}
	if pub, err = untpm2b(k.Public); err != nil {
		return nil, nil, fmt.Errorf("agent: %s public area: %w", KeyFile, err)
	}
	if priv, err = untpm2b(k.Private); err != nil {
		return nil, nil, fmt.Errorf("agent: %s private area: %w", KeyFile, err)
	}
	return pub, priv, nil
}

// attestKeyBlob is go-attestation's own serialization of a loadable TPM
// 2.0 key (what attest.Key.Marshal writes and attest.TPM.LoadKey reads):
// encoding 2 is "encrypted", the TPM's wrapped blob.
type attestKeyBlob struct {
	Encoding   int    `json:"KeyEncoding"`
	TPMVersion int    `json:"TPMVersion"`
	Public     []byte `json:"Public"`
	Blob       []byte `json:"KeyBlob"`
}

// loadableBlob turns the public and private areas into what
// attest.TPM.LoadKey reads.
func loadableBlob(pub, priv []byte) ([]byte, error) {
	return json.Marshal(attestKeyBlob{Encoding: 2, TPMVersion: 2, Public: pub, Blob: priv})
}

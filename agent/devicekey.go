package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// keySourceTPM is agentwire.Certificate.KeyProtectionSource when the
// server verified the key's TPM attestation.
const keySourceTPM = "tpm_attested"

// newKey is the device key made at enrollment, with device.key's content.
type newKey struct {
	signer crypto.Signer
	file   []byte
	// tpm is the TPM key (nil for a software key); fallback says why an
	// auto enrollment has a software key.
	tpm      *tpmKey
	fallback string
}

// newDeviceKey makes the device key as o.KeyMode says: in the TPM
// (attested through c), falling back to software in auto mode with the
// reason printed and kept, or in software.
func newDeviceKey(ctx context.Context, o EnrollOptions, c *client) (*newKey, error) {
	k := &newKey{}
	if o.KeyMode != KeyModeSoftware {
		tk, err := newTPMKey(ctx, o.TPM, c, o.Code, o.Log)
		switch {
		case err == nil:
			k.signer, k.file, k.tpm = tk.signer, tk.file, tk
			if tk.attestErr != "" {
				fmt.Fprintf(o.Out, "WARNING: the device key is in the TPM, but %s: the server records it as the agent's statement.\n", tk.attestErr)
			}
			return k, nil
		case o.KeyMode == KeyModeTPM:
			return nil, fmt.Errorf("agent: --key tpm: the device key cannot be made in a TPM: %w (use --key auto or --key software to enroll with a software key)", err)
		}
		k.fallback = "no usable TPM: " + err.Error()
		fmt.Fprintf(o.Out, "Note: %s; the device key is a software key (device.key).\n", k.fallback)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	k.signer, k.file = key, pem.EncodeToMemory(&pem.Block{Type: pemSoftwareKey, Bytes: der})
	return k, nil
}

// public is the key's public key.
func (k *newKey) public() *ecdsa.PublicKey { return k.signer.Public().(*ecdsa.PublicKey) }

// close releases the TPM.
func (k *newKey) close() {
	if k.tpm != nil {
		k.tpm.signer.Close()
	}
}

// note is what status says of the key beside its protection: why it is
// a software key, or why the server did not verify the TPM (given the
// source the certificate states).
func (k *newKey) note(source string) string {
	switch {
	case k.tpm == nil:
		return k.fallback
	case k.tpm.attestErr != "":
		return k.tpm.attestErr
	case source == "":
		return "the server did not say whether it verified the TPM attestation"
	case source != keySourceTPM:
		return fmt.Sprintf("the server did not accept the TPM attestation (the certificate says %s)", source)
	}
	return ""
}

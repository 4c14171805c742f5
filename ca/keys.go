package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Lifetimes of the CA certificates created at first start.
const (
	rootLifetime         = 10 * 365 * 24 * time.Hour
	intermediateLifetime = 5 * 365 * 24 * time.Hour
	// caBackdate absorbs clock skew between replicas and devices.
	caBackdate = time.Hour
)

// Keys is the CA's key material: the root and the intermediate that signs
// every certificate. RootKey may be nil when the operator moved the root key
// offline; the CA never needs it to run.
type Keys struct {
	Root            *x509.Certificate
	RootKey         crypto.Signer
	Intermediate    *x509.Certificate
	IntermediateKey crypto.Signer
}

// KeyStore keeps the CA's key material. Two implementations exist:
// FileKeyStore (files in the data dir) and SealedKeyStore (encrypted in the
// shared store).
type KeyStore interface {
	// Load returns the stored material, ErrNoKeys when none exists yet, or
	// another error when material exists but cannot be used (partial,
	// corrupt, wrong password). New never generates over such an error.
	Load(ctx context.Context) (*Keys, error)
	// Create stores new material. It returns ErrKeysExist when material
	// appeared meanwhile; New then loads the winner's material.
	Create(ctx context.Context, k *Keys) error
}

// generateKeys creates a new ECDSA P-256 root and intermediate.
func generateKeys(org string, now time.Time) (*Keys, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Portier Root CA", Organization: []string{org}},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(rootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	root, err := signCA(rootTpl, rootTpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("create root: %w", err)
	}
	interTpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Portier Intermediate CA", Organization: []string{org}},
		NotBefore:             now.Add(-caBackdate),
		NotAfter:              now.Add(intermediateLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	inter, err := signCA(interTpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("create intermediate: %w", err)
	}
	return &Keys{Root: root, RootKey: rootKey, Intermediate: inter, IntermediateKey: interKey}, nil
}

func signCA(tpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

// check verifies that the material is one coherent CA: the intermediate is
// a CA signed by the root, and each key matches its certificate.
func (k *Keys) check() error {
	switch {
	case k.Root == nil || k.Intermediate == nil || k.IntermediateKey == nil:
		return errors.New("root certificate, intermediate certificate and intermediate key are required")
	case !k.Root.IsCA || !k.Intermediate.IsCA:
		return errors.New("root and intermediate must be CA certificates")
	}
	if err := k.Intermediate.CheckSignatureFrom(k.Root); err != nil {
		return fmt.Errorf("intermediate is not signed by the root: %w", err)
	}
	if !samePublicKey(k.Intermediate.PublicKey, k.IntermediateKey.Public()) {
		return errors.New("intermediate key does not match the intermediate certificate")
	}
	if k.RootKey != nil && !samePublicKey(k.Root.PublicKey, k.RootKey.Public()) {
		return errors.New("root key does not match the root certificate")
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ab, err1 := x509.MarshalPKIXPublicKey(a)
	bb, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}

// parseKey reads a PKCS#8 (or SEC 1 EC) private key that can sign.
func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("private key of type %T cannot sign", k)
		}
		return s, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8 or EC private key")
}

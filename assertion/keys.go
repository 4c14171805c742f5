package assertion

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// key is one signing key. NotBefore is when it starts signing: until then it
// is only published.
type key struct {
	ID        string    `json:"kid"`
	PKCS8     []byte    `json:"pkcs8"`
	Created   time.Time `json:"created"`
	NotBefore time.Time `json:"not_before"`
	priv      *ecdsa.PrivateKey
}

func newKey(now, notBefore time.Time) (*key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	sum := sha256.Sum256(pub)
	return &key{ID: base64.RawURLEncoding.EncodeToString(sum[:12]), PKCS8: der, Created: now, NotBefore: notBefore, priv: priv}, nil
}

func (k *key) load() error {
	p, err := x509.ParsePKCS8PrivateKey(k.PKCS8)
	if err != nil {
		return fmt.Errorf("assertion key %s: %w", k.ID, err)
	}
	ec, ok := p.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return fmt.Errorf("assertion key %s is not an ECDSA P-256 key", k.ID)
	}
	k.priv = ec
	return nil
}

// JWK is one public key in the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the published key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

func (k *key) jwk() JWK {
	pad := func(b *big.Int) string {
		buf := make([]byte, 32)
		b.FillBytes(buf)
		return base64.RawURLEncoding.EncodeToString(buf)
	}
	return JWK{Kty: "EC", Crv: "P-256", X: pad(k.priv.X), Y: pad(k.priv.Y), Kid: k.ID, Use: "sig", Alg: "ES256"}
}

// PublicKey returns the ECDSA public key of a JWK.
func (j JWK) PublicKey() (*ecdsa.PublicKey, error) {
	if j.Kty != "EC" || j.Crv != "P-256" {
		return nil, fmt.Errorf("jwk %s: not an EC P-256 key", j.Kid)
	}
	x, err1 := base64.RawURLEncoding.DecodeString(j.X)
	y, err2 := base64.RawURLEncoding.DecodeString(j.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("jwk %s: bad coordinates", j.Kid)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	if !pub.Curve.IsOnCurve(pub.X, pub.Y) {
		return nil, fmt.Errorf("jwk %s: point not on curve", j.Kid)
	}
	return pub, nil
}

func marshalKeys(ks []*key) ([]byte, error) { return json.Marshal(ks) }

func unmarshalKeys(b []byte) ([]*key, error) {
	var ks []*key
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, fmt.Errorf("assertion keys: %w", err)
	}
	for _, k := range ks {
		if err := k.load(); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

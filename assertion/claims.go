package assertion

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// Claims are the assertion's claims (INTERFACE.md).
type Claims struct {
	Issuer   string       `json:"iss"`
	Audience string       `json:"aud"`
	Subject  string       `json:"sub"`
	Email    string       `json:"email"`
	Groups   []string     `json:"groups"`
	Device   *DeviceClaim `json:"device,omitempty"`
	IssuedAt int64        `json:"iat"`
	Expiry   int64        `json:"exp"`
}

// DeviceClaim describes the requesting device.
type DeviceClaim struct {
	ID        string `json:"id"`
	Trust     string `json:"trust"`
	Ownership string `json:"ownership"`
}

// Verify checks a compact ES256 token against a JWKS, the expected issuer
// and audience, and the time. Upstream Go services can use it as is.
func Verify(token string, set JWKS, issuer, audience string, now time.Time) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("assertion: not a compact JWS")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("assertion: bad header encoding")
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "ES256" {
		return nil, errors.New("assertion: header must say alg ES256")
	}
	i := slices.IndexFunc(set.Keys, func(k JWK) bool { return k.Kid == h.Kid })
	if i < 0 {
		return nil, fmt.Errorf("assertion: unknown key id %q", h.Kid)
	}
	pub, err := set.Keys[i].PublicKey()
	if err != nil {
		return nil, err
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("assertion: bad signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, errors.New("assertion: bad signature")
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("assertion: bad payload encoding")
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, fmt.Errorf("assertion: payload: %w", err)
	}
	switch {
	case c.Issuer != issuer:
		return nil, fmt.Errorf("assertion: issuer %q, want %q", c.Issuer, issuer)
	case c.Audience != audience:
		return nil, fmt.Errorf("assertion: audience %q, want %q", c.Audience, audience)
	case now.Unix() >= c.Expiry:
		return nil, errors.New("assertion: expired")
	case c.IssuedAt > now.Add(time.Minute).Unix():
		return nil, errors.New("assertion: issued in the future")
	}
	return &c, nil
}

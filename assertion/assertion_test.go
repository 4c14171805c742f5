package assertion

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"github.com/portier/portier/clocktest"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

func newStore(t *testing.T) *store.Store { return storetest.OpenBolt(t) }

func jwks(t *testing.T, s *Signer) JWKS {
	var set JWKS
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func claimsAt(now time.Time) Claims {
	return Claims{Issuer: "https://portier.example.com", Audience: "https://wiki.example.com", Subject: "usr_1",
		Email: "a@example.com", Groups: []string{"staff"}, Device: &DeviceClaim{ID: "dev_1", Trust: "high", Ownership: "corporate"},
		IssuedAt: now.Unix(), Expiry: now.Add(MaxTTL).Unix()}
}

func TestSignVerify(t *testing.T) {
	clk := clocktest.At(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	s, err := New(context.Background(), Options{Store: newStore(t), Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(claimsAt(clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(tok, jwks(t, s), "https://portier.example.com", "https://wiki.example.com", clk.Now())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Email != "a@example.com" || c.Device.Trust != "high" {
		t.Errorf("claims = %+v", c)
	}
	if _, err := Verify(tok, jwks(t, s), "https://portier.example.com", "https://other.example.com", clk.Now()); err == nil {
		t.Error("wrong audience accepted")
	}
	if _, err := Verify(tok, jwks(t, s), "https://portier.example.com", "https://wiki.example.com", clk.Now().Add(MaxTTL)); err == nil {
		t.Error("expired token accepted")
	}
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), "a@example.com", "boss@example.com", 1))
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	if _, err := Verify(forged, jwks(t, s), "https://portier.example.com", "https://wiki.example.com", clk.Now()); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("tampered payload: err = %v, want bad signature", err)
	}
}

func TestRotationNeverBreaksVerifiers(t *testing.T) {
	clk := clocktest.At(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	st := newStore(t)
	opts := Options{Store: st, Clock: clk.Now, Rotation: 24 * time.Hour, PublishAhead: time.Hour}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	first := jwks(t, s).Keys[0].Kid
	// A verifier fetches the JWKS now and again every hour; every token
	// signed at any minute must verify with the set it fetched last.
	cached := jwks(t, s)
	sawRotation := false
	for minute := 0; minute < 3*24*60; minute += 7 {
		clk.Advance(7 * time.Minute)
		if err := s.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if minute%60 < 7 {
			cached = jwks(t, s)
		}
		tok, err := s.Sign(claimsAt(clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(tok, cached, "https://portier.example.com", "https://wiki.example.com", clk.Now()); err != nil {
			t.Fatalf("at +%dm a fresh token fails with the JWKS cached ≤1h ago: %v", minute, err)
		}
		if s.state.Load().current.ID != first {
			sawRotation = true
		}
		if n := len(jwks(t, s).Keys); n > 3 {
			t.Fatalf("JWKS grew to %d keys: old keys are not retired", n)
		}
	}
	if !sawRotation {
		t.Error("the key never rotated in three days with a 24h rotation")
	}
	// A second replica on the same store signs with the same keys.
	other, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if other.state.Load().current.ID != s.state.Load().current.ID {
		t.Error("two signers on one store disagree on the current key")
	}
}

package identity

import (
	"bytes"
	"context"
	"testing"

	"github.com/portier/portier/identity/identitytest"
)

func TestSealers(t *testing.T) {
	st := identitytest.OpenStore(t)
	ctx := context.Background()
	a, err := StoreSealer(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := a.Seal([]byte("refresh-token"), []byte("session-1"))
	if err != nil || bytes.Contains(sealed, []byte("refresh-token")) {
		t.Fatalf("Seal = %x, %v", sealed, err)
	}
	b, err := StoreSealer(ctx, st) // a second process, or a restart
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(sealed, []byte("session-1")); err != nil || string(got) != "refresh-token" {
		t.Fatalf("Open with the stored key = %q, %v", got, err)
	}
	if _, err := b.Open(sealed, []byte("session-2")); err == nil {
		t.Error("a value sealed for one session opened for another")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := b.Open(sealed, []byte("session-1")); err == nil {
		t.Error("a tampered value opened")
	}
	if _, err := NewAESSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

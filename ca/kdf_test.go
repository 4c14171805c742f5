package ca_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/portier/portier/ca"
)

// small are cheap argon2id parameters for the tests of Derivations itself.
func small(salt string) ca.KDFParams {
	return ca.KDFParams{Salt: []byte(salt), Time: 1, Memory: 64, Threads: 2}
}

func direct(pw []byte, p ca.KDFParams) []byte {
	return argon2.IDKey(pw, p.Salt, p.Time, p.Memory, p.Threads, 32)
}

// TestDerivationsHandOutOnlyTheirOwnKey: a key derived ahead is handed
// out for its very password and parameters only; any other request gets
// its own derivation.
func TestDerivationsHandOutOnlyTheirOwnKey(t *testing.T) {
	pw := []byte("the password derived ahead, 32+ chars")
	d := ca.NewDerivations(pw)
	p := small("salt-one-16bytes")
	d.Start(p)
	d.Start(p) // once only
	if got := d.Key(pw, p); !bytes.Equal(got, direct(pw, p)) {
		t.Error("the key derived ahead differs from argon2id's")
	}
	if got := d.Key(pw, p); !bytes.Equal(got, direct(pw, p)) {
		t.Error("the key asked for again differs from argon2id's")
	}
	d.Start(p)
	other := []byte("another password, also 32+ chars long")
	if got := d.Key(other, p); !bytes.Equal(got, direct(other, p)) {
		t.Error("another password got the key derived ahead")
	}
	for _, q := range []ca.KDFParams{
		small("salt-two-16bytes"),
		{Salt: p.Salt, Time: 2, Memory: p.Memory, Threads: p.Threads},
		{Salt: p.Salt, Time: p.Time, Memory: 128, Threads: p.Threads},
		{Salt: p.Salt, Time: p.Time, Memory: p.Memory, Threads: 1},
	} {
		if got := d.Key(pw, q); !bytes.Equal(got, direct(pw, q)) {
			t.Errorf("parameters %+v got another derivation's key", q)
		}
	}
	var none *ca.Derivations
	if got := none.Key(pw, p); !bytes.Equal(got, direct(pw, p)) {
		t.Error("a nil Derivations derived a wrong key")
	}
}

// TestSealedKeyStoreUsesDerivations: the key of a sealed blob derived
// ahead from its stored parameters unseals the CA; derived ahead from
// the right password, it does not let a wrong one in.
func TestSealedKeyStoreUsesDerivations(t *testing.T) {
	st := openStore(t, t.TempDir())
	ctx := context.Background()
	pw := []byte("correct horse battery staple, 32+ chars")
	ks, err := ca.NewSealedKeyStore(st, pw)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := ca.New(ctx, ca.Options{Store: st, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	blob, _ := st.Blob(ca.SealedKeysBlob)
	p, err := ca.SealedKDFParams(blob.Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Memory != 64*1024 || p.Time != 3 || p.Threads != 4 || len(p.Salt) != 16 {
		t.Errorf("parameters read back = %+v, want the ones sealed with", p)
	}
	d := ca.NewDerivations(pw)
	d.Start(p)

	ks2, _ := ca.NewSealedKeyStore(st, pw)
	c2, err := ca.New(ctx, ca.Options{Store: st, Keys: ks2.UseDerivations(d)})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Fingerprint() != c1.Fingerprint() {
		t.Error("another CA after unsealing with the key derived ahead")
	}

	bad, _ := ca.NewSealedKeyStore(st, []byte("not the right password, but long enough"))
	if _, err := ca.New(ctx, ca.Options{Store: st, Keys: bad.UseDerivations(d)}); !errors.Is(err, ca.ErrWrongPassword) {
		t.Fatalf("New with a wrong password = %v, want ErrWrongPassword", err)
	}
	if _, err := ca.SealedKDFParams([]byte(`{"v":1,"kdf":"argon2id","t":3,"m":99999999,"p":4}`)); err == nil {
		t.Error("a blob asking for 95 GiB of memory was accepted")
	}
}

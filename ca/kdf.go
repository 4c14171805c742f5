package ca

import (
	"bytes"
	"crypto/subtle"
	"sync"

	"golang.org/x/crypto/argon2"
)

// KDFParams are the inputs of one argon2id derivation besides the
// password. Keys are always 32 bytes.
type KDFParams struct {
	Salt    []byte
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// same reports whether p and q derive the same key from one password.
func (p KDFParams) same(q KDFParams) bool {
	return bytes.Equal(p.Salt, q.Salt) && p.Time == q.Time && p.Memory == q.Memory && p.Threads == q.Threads
}

// Derivations runs argon2id derivations from one password ahead of their
// use, so that start-up can unseal the CA keys and the sealing key while
// it is still loading the store. A key is handed out only for the very
// password and parameters it was derived with; anything else is derived
// when asked. The parameters are the stored ones: nothing is weakened. A
// nil *Derivations derives every key when asked.
type Derivations struct {
	password []byte
	mu       sync.Mutex
	runs     []*derivation
}

type derivation struct {
	p    KDFParams
	key  []byte
	done chan struct{}
}

// NewDerivations returns an empty set of derivations from password.
func NewDerivations(password []byte) *Derivations {
	return &Derivations{password: bytes.Clone(password)}
}

// Start begins deriving the key for p on its own goroutine. Starting the
// same parameters twice, before the key is taken, derives once.
func (d *Derivations) Start(p KDFParams) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.runs {
		if r.p.same(p) {
			return
		}
	}
	r := &derivation{p: KDFParams{Salt: bytes.Clone(p.Salt), Time: p.Time, Memory: p.Memory, Threads: p.Threads},
		done: make(chan struct{})}
	d.runs = append(d.runs, r)
	go func() {
		defer close(r.done)
		r.key = deriveKey(d.password, r.p)
	}()
}

// Key returns the argon2id key of password under p: the one a Start with
// the same password and parameters computed (waiting for it to finish),
// else a new derivation. A key derived ahead is handed out once and then
// forgotten, so d holds no copy of a key in use.
func (d *Derivations) Key(password []byte, p KDFParams) []byte {
	if d == nil || subtle.ConstantTimeCompare(password, d.password) != 1 {
		return deriveKey(password, p)
	}
	d.mu.Lock()
	var found *derivation
	for i, r := range d.runs {
		if r.p.same(p) {
			found = r
			d.runs = append(d.runs[:i:i], d.runs[i+1:]...)
			break
		}
	}
	d.mu.Unlock()
	if found == nil {
		return deriveKey(password, p)
	}
	<-found.done
	return found.key
}

// deriveKey is argon2id with p: a 32-byte key.
func deriveKey(password []byte, p KDFParams) []byte {
	return argon2.IDKey(password, p.Salt, p.Time, p.Memory, p.Threads, 32)
}

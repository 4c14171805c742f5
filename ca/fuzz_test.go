package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/portier/portier/ca"
)

// FuzzIssueDeviceCSR feeds arbitrary bytes through the path an enrolling
// agent's request takes: ParseCSR, then IssueDevice's validation and, for
// the rare input that passes, signing. It must never panic, and anything
// refused must be refused as ErrInvalidCSR.
func FuzzIssueDeviceCSR(f *testing.F) {
	e := newEnv(f, nil)
	_, good := deviceCSR(f, "fuzz-device")
	f.Add(good.Raw)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: good.Raw}))
	f.Add(newCSR(f, p256(f), nil).Raw)
	r1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	f.Add(newCSR(f, r1024, nil).Raw)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	f.Add(newCSR(f, p224, nil).Raw)
	bad := append([]byte(nil), good.Raw...)
	bad[len(bad)-3] ^= 1
	f.Add(bad)
	f.Add([]byte{})
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ca.ParseCSR(data)
		if err != nil {
			if !errors.Is(err, ca.ErrInvalidCSR) {
				t.Fatalf("ParseCSR error is not ErrInvalidCSR: %v", err)
			}
			return
		}
		chain, err := e.ca.IssueDevice(context.Background(), csr, "fuzz-device", ca.KeyInfo{})
		if err != nil {
			if !errors.Is(err, ca.ErrInvalidCSR) {
				t.Fatalf("IssueDevice error is not ErrInvalidCSR: %v", err)
			}
			return
		}
		if id, ok := ca.DeviceIDFromCert(chain[0]); !ok || id != "fuzz-device" {
			t.Fatalf("issued certificate names %q", id)
		}
		if len(chain[0].DNSNames)+len(chain[0].IPAddresses)+len(chain[0].EmailAddresses) > 0 {
			t.Fatal("issued certificate carries names from the request")
		}
	})
}

package tpmtest_test

import (
	"testing"

	"github.com/google/go-attestation/attest"

	"github.com/portier/portier/tpmtest"
)

// TestStart checks that the software TPM answers TPM 2.0 commands: its
// endorsement key can be read, as an agent reads a chip's.
func TestStart(t *testing.T) {
	tpm := tpmtest.Start(t)
	c, err := tpm.Open()
	if err != nil {
		t.Fatal(err)
	}
	at, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: c})
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	eks, err := at.EKs()
	if err != nil {
		t.Fatal(err)
	}
	if len(eks) == 0 || eks[0].Public == nil {
		t.Fatalf("the software TPM has no endorsement key: %+v", eks)
	}
}

//go:build !linux && !windows

package agent

import (
	"errors"

	"github.com/google/go-attestation/attest"
)

// OpenSystemTPM fails: macOS has no TPM (its Secure Enclave is not a TPM
// and the agent does not use it), and other systems are not supported.
func OpenSystemTPM() (attest.CommandChannelTPM20, error) {
	return nil, errors.New("this operating system has no TPM 2.0 the agent can use (on macOS the key is a software key)")
}

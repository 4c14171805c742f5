package agent

import (
	"fmt"
	"io"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpmutil"
)

// OpenSystemTPM opens the machine's TPM 2.0 through TPM Base Services
// (TBS), as a raw command channel: the agent runs the same TPM 2.0
// commands as on Linux (its keys live under the TPM's storage root key,
// not in the Platform Crypto Provider's key store). TBS refuses some
// commands to programs that are not elevated; the agent service runs as
// LocalSystem.
func OpenSystemTPM() (attest.CommandChannelTPM20, error) {
	rwc, err := tpmutil.OpenTPM()
	if err != nil {
		return nil, fmt.Errorf("no usable TPM 2.0 through TPM Base Services: %w", err)
	}
	return tbsChannel{rwc}, nil
}

// tbsChannel is a TBS context as go-attestation's command channel; the
// agent reads no boot measurement log.
type tbsChannel struct{ io.ReadWriteCloser }

func (tbsChannel) MeasurementLog() ([]byte, error) { return nil, nil }

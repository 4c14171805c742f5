package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/go-attestation/attest"
)

// linuxTPMDevice is the kernel's TPM 2.0 resource manager: several
// programs may use the TPM through it at once, each seeing only its own
// loaded keys.
const linuxTPMDevice = "/dev/tpmrm0"

// OpenSystemTPM opens the machine's TPM 2.0 through /dev/tpmrm0 (root and
// the tss group may open it on Debian, Ubuntu and Fedora).
func OpenSystemTPM() (attest.CommandChannelTPM20, error) {
	f, err := os.OpenFile(linuxTPMDevice, os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no TPM 2.0 on this machine (%s does not exist)", linuxTPMDevice)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("the agent may not open %s: run it as root or as a member of the tss group", linuxTPMDevice)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", linuxTPMDevice, err)
	}
	return fileChannel{f}, nil
}

// fileChannel is a TPM device file as go-attestation's command channel;
// the agent reads no boot measurement log.
type fileChannel struct{ *os.File }

func (fileChannel) MeasurementLog() ([]byte, error) { return nil, nil }

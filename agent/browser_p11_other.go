//go:build !unix

package agent

import (
	"context"
	"errors"
)

var errNoTPMBrowserKeys = errors.New("TPM browser keys through tpm2-pkcs11 exist on Linux only")

func readPersonFile(string, LocalUser) ([]byte, error) { return nil, errNoTPMBrowserKeys }

func personCanOpen(string, LocalUser) error { return errNoTPMBrowserKeys }

// PersonCommands runs nothing here: the TPM browser keys are Linux only.
func PersonCommands(context.Context, Command) ([]byte, error) { return nil, errNoTPMBrowserKeys }

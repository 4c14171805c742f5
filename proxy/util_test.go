package proxy_test

import (
	"github.com/portier/portier/identity"
)

func hashOf(s string) string { return identity.HashSecret(s) }

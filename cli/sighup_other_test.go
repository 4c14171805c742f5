//go:build !unix

package cli

import "testing"

// sighup: reloading on SIGHUP is a Unix feature; the rest of the test has run.
func sighup(t *testing.T) { t.Skip("reload on SIGHUP is Unix-only") }

package server

import (
	"errors"
	"fmt"
	"testing"

	"github.com/portier/portier/ca"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// TestRestartOnPostgresUnsealsWithKeysDerivedAhead: a replica started on
// a PostgreSQL store that holds an installation derives its keys while it
// loads, and then serves the same CA; with a wrong CA key password it
// refuses to start.
func TestRestartOnPostgresUnsealsWithKeysDerivedAhead(t *testing.T) {
	extra := fmt.Sprintf("store: %q\n", pgtest.DSN(t))
	first, _, _, stop := serveWithMetrics(t, extra, pgEnv)
	fingerprint := first.CA().Fingerprint()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	again, _, _, stop := serveWithMetrics(t, extra, pgEnv)
	if got := again.CA().Fingerprint(); got != fingerprint {
		t.Errorf("restarted with CA %s, want %s", got, fingerprint)
	}
	if again.derive != nil {
		t.Error("the keys derived ahead are still held after start-up")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	wrong := func(k string) string {
		if k == "PORTIER_CA_KEY_PASSWORD" {
			return "a wrong password that is long enough, test only"
		}
		return ""
	}
	if _, _, _, _, err := startWithMetrics(t, extra, Options{Getenv: wrong}); !errors.Is(err, ca.ErrWrongPassword) {
		t.Fatalf("start with a wrong password: %v, want ErrWrongPassword", err)
	}
}

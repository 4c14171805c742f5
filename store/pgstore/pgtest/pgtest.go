// Package pgtest gives tests a fresh PostgreSQL schema on the server named
// by PORTIER_TEST_POSTGRES_URL; it is kept out of package pgstore so the
// production binary does not link the testing package.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by TestDSN.
const (
	envTestURL    = "PORTIER_TEST_POSTGRES_URL"
	envRequireAll = "PORTIER_TEST_REQUIRE_ALL"
)

// DSN returns a DSN for a fresh, empty schema on the PostgreSQL server
// named by PORTIER_TEST_POSTGRES_URL; the schema is dropped when the test
// ends. Without that variable it skips the test, or fails it when
// PORTIER_TEST_REQUIRE_ALL=1. Tests in any package may use it.
func DSN(t testing.TB) string {
	t.Helper()
	base := URL(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "portier_t_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %s is set but PostgreSQL is not usable: %v", envTestURL, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("pgtest: drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "SET lock_timeout = '10s'; DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("pgtest: drop test schema %s: %v", schema, err)
		}
	})
	return WithParam(base, "search_path", schema)
}

// URL returns the test server's URL, or skips or fails t without one.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envTestURL)
	if u != "" {
		return u
	}
	if os.Getenv(envRequireAll) == "1" {
		t.Fatalf("%s=1 but %s is not set: this test needs PostgreSQL", envRequireAll, envTestURL)
	}
	t.Skipf("skipping: PostgreSQL test needs %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", envTestURL)
	return ""
}

// WithParam sets a connection parameter (a run-time parameter such as
// search_path or application_name) in a URL or key=value DSN.
func WithParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	v := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value)
	return strings.TrimSpace(dsn + " " + key + "='" + v + "'")
}

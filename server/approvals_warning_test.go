package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/portier/portier/store"
	"github.com/portier/portier/store/pgstore/pgtest"
)

// syncWriter is a log destination several goroutines may write to.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestStartWarnsWhenStoredSettingsTurnApprovalOff: two-person approval
// turned off through the stored settings (the config file leaves it on)
// is what every replica then applies, so a replica's start says so, as
// it does for approvals.disabled in the file.
func TestStartWarnsWhenStoredSettingsTurnApprovalOff(t *testing.T) {
	const warning = "two-person approval is off"
	extra := fmt.Sprintf("store: %q\n", pgtest.DSN(t))
	var logs syncWriter
	first, _, _, stop, err := startWithMetrics(t, extra, Options{Getenv: pgEnv, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("warned with approval on:\n%s", logs.String())
	}
	off := &store.ApprovalSettings{ID: store.ApprovalSettingsID, Version: 1, BulkThreshold: 10, Disabled: true}
	if err := first.Store().Write(context.Background(), store.PutIf(off, 0)); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var again syncWriter
	if _, _, _, _, err := startWithMetrics(t, extra, Options{Getenv: pgEnv, Log: slog.New(slog.NewTextHandler(&again, nil))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), warning) {
		t.Errorf("a start with approval turned off in the store did not warn:\n%s", again.String())
	}
}

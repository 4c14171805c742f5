package cli

import (
	"strings"
	"sync"
	"testing"

	"github.com/portier/portier/store/pgstore/pgtest"
)

// bannerSetupLink is the set-up link printed at start, "" if none.
func bannerSetupLink(stdout string) string {
	_, rest, ok := strings.Cut(stdout, "Set-up link (once): ")
	if !ok {
		return ""
	}
	link, _, _ := strings.Cut(rest, "\n")
	return strings.TrimSpace(link)
}

// TestPostgresConcurrentFirstStart (issue 9 item 14): replicas started at
// the same moment on an empty database all start, and share one CA and one
// set-up link. Before the first-run lock one of them could exit with
// "sealing key: salt missing after create", and each printed its own link.
func TestPostgresConcurrentFirstStart(t *testing.T) {
	const rounds, replicas = 10, 3
	for round := range rounds {
		dsn := pgtest.DSN(t)
		env := map[string]string{"PORTIER_STORE": dsn, "PORTIER_CA_KEY_PASSWORD": testCAPassword}
		ins := make([]*instance, replicas)
		for i := range ins {
			ins[i] = launch(t, t.TempDir(), env)
		}
		var wg sync.WaitGroup
		for _, in := range ins {
			wg.Add(1)
			go func() { defer wg.Done(); waitHealthy(t, in) }()
		}
		wg.Wait()
		fp, link := bannerFingerprint(ins[0].stdout.String()), bannerSetupLink(ins[0].stdout.String())
		if fp == "" || !strings.Contains(link, "/setup?token=") {
			t.Fatalf("round %d: replica 0 printed no fingerprint or set-up link:\n%s", round, ins[0].stdout)
		}
		for i, in := range ins[1:] {
			out := in.stdout.String()
			if got := bannerFingerprint(out); got != fp {
				t.Errorf("round %d: replica %d has CA %s, replica 0 has %s", round, i+1, got, fp)
			}
			// Each replica prints the link with its own port: compare the secret.
			_, want, _ := strings.Cut(link, "?token=")
			if _, got, _ := strings.Cut(bannerSetupLink(out), "?token="); got != want {
				t.Errorf("round %d: replica %d printed set-up secret %q, replica 0 %q", round, i+1, got, want)
			}
		}
		for _, in := range ins {
			if code := in.stop(); code != 0 {
				t.Fatalf("round %d: a replica exited %d:\n%s", round, code, in.stderr)
			}
		}
		if t.Failed() {
			return
		}
		recs := pgContent(t, dsn)
		n := 0
		for k := range recs {
			if strings.HasPrefix(k, "invite/") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d set-up invites in the store, want 1", round, n)
		}
	}
}

// TestRestartReprintsTheSameSetupLink: until an owner exists, a restart
// prints the link already made (one outstanding set-up secret, not one per
// start).
func TestRestartReprintsTheSameSetupLink(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir, nil)
	link := bannerSetupLink(first.stdout.String())
	if code := first.stop(); code != 0 || link == "" {
		t.Fatalf("first start: exit %d, link %q", code, link)
	}
	again := start(t, dir, nil)
	_, want, _ := strings.Cut(link, "?token=")
	if _, got, _ := strings.Cut(bannerSetupLink(again.stdout.String()), "?token="); got != want {
		t.Errorf("restart printed set-up secret %q, the first start %q", got, want)
	}
}

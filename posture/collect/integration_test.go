//go:build linux

package collect

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestLinuxCollectorsOnThisMachine runs the real Linux set here. Tools may
// be missing (then "not available"); the signals every Linux machine can
// give must be present and sane, and nothing may be guessed.
func TestLinuxCollectorsOnThisMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real commands")
	}
	set := Linux(DefaultEnv("0.0.0-test"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	sigs := set.Run(ctx, Allow(AllSignals()...), time.Now)
	m := byName(t, sigs)
	for _, s := range sigs {
		v := s.Value
		if a, ok := v.([]App); ok {
			v = len(a)
		}
		t.Logf("%-30s %-10v err=%q src=%q", s.Name, v, s.Error, s.Source)
		if (s.Value == nil) == (s.Error == "") {
			t.Errorf("%s: exactly one of value and error must be set", s.Name)
		}
		if s.CollectedAt.Before(start) || s.Source == "" {
			t.Errorf("%s: collected %v source %q", s.Name, s.CollectedAt, s.Source)
		}
	}
	if len(sigs) != len(set.Signals()) {
		t.Errorf("%d signals for %d names", len(sigs), len(set.Signals()))
	}
	for _, name := range []string{OSName, KernelVersion, UptimeSeconds, DiskFreeBytes, AgentVersion} {
		if s := m[name]; !s.OK() {
			t.Errorf("%s missing: %+v", name, s)
		}
	}
	if v, _ := m[UptimeSeconds].Value.(int64); v <= 0 || v > 10*365*24*3600 {
		t.Errorf("uptime %d", v)
	}
	if v, _ := m[DiskFreeBytes].Value.(int64); v <= 0 {
		t.Errorf("disk free %d", v)
	}
	if v, _ := m[KernelVersion].Value.(string); v == "" || strings.ContainsAny(v, " \n") {
		t.Errorf("kernel %q", v)
	}
	if m[AgentVersion].Value != "0.0.0-test" {
		t.Errorf("agent %v", m[AgentVersion].Value)
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" && m[ScreenlockEnabled].Error == "" {
		t.Errorf("screen lock reported without a desktop: %+v", m[ScreenlockEnabled])
	}
}

package posture

import (
	"context"
	"fmt"
	"github.com/portier/portier/clocktest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// t0 is a Tuesday, 10:00 UTC.
var t0 = time.Date(2025, 3, 11, 10, 0, 0, 0, time.UTC)

type fakeClock = clocktest.Clock

type enqueued struct {
	device, typ string
	params      map[string]string
	by          string
}

// fakeQueue is an ActionQueue recording calls; fn may fail them.
type fakeQueue struct {
	mu    sync.Mutex
	calls []enqueued
	fn    func(deviceID, typ string) error
}

func (q *fakeQueue) Enqueue(_ context.Context, deviceID, typ string, params map[string]string, by string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fn != nil {
		if err := q.fn(deviceID, typ); err != nil {
			return err
		}
	}
	q.calls = append(q.calls, enqueued{deviceID, typ, params, by})
	return nil
}

func (q *fakeQueue) types() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, c := range q.calls {
		out = append(out, c.typ)
	}
	return out
}

// parseCfg compiles the posture sections of a config document.
func parseCfg(t testing.TB, doc string) *Config {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	pc, err := FromConfig(c)
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	return pc
}

// parseErr compiles a document that must fail and returns the error text.
func parseErr(t *testing.T, doc string) string {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	_, err = FromConfig(c)
	if err == nil {
		t.Fatalf("FromConfig succeeded, want an error for:\n%s", doc)
	}
	return err.Error()
}

type env struct {
	e     *Engine
	st    *store.Store
	clock *fakeClock
	queue *fakeQueue
}

func newEnv(t testing.TB, doc string) *env {
	t.Helper()
	var cfg *Config
	if doc != "" {
		cfg = parseCfg(t, doc)
	}
	st := storetest.OpenBolt(t)
	clk := clocktest.At(t0)
	q := &fakeQueue{}
	e, err := New(Options{Store: st, Clock: clk.Now, Config: cfg, Actions: q})
	if err != nil {
		t.Fatal(err)
	}
	return &env{e: e, st: st, clock: clk, queue: q}
}

func (v *env) addDevice(t testing.TB, d *store.Device) *store.Device {
	t.Helper()
	if d.State == "" {
		d.State = store.DeviceActive
	}
	if d.Platform == "" {
		d.Platform = "linux"
	}
	if d.Ownership == "" {
		d.Ownership = store.OwnershipCorporate
	}
	if d.KeyProtection == "" {
		d.KeyProtection = store.KeyHardware // so a compliant device can reach high
	}
	if err := v.st.Write(context.Background(), store.Put(d)); err != nil {
		t.Fatal(err)
	}
	return d
}

func (v *env) device(t testing.TB, id string) *store.Device {
	t.Helper()
	d, ok := v.st.Device(id)
	if !ok {
		t.Fatalf("device %s missing", id)
	}
	return d
}

func (v *env) eventTypes(id string) []string {
	var out []string
	for _, ev := range v.st.DeviceEvents(id) {
		s := ev.Type
		if step := ev.Detail["step"]; step != "" {
			s += ":" + step
		}
		if c := ev.Detail["check"]; c != "" {
			s += ":" + c
		}
		out = append(out, s)
	}
	return out
}

// sig builds an agent signal collected at t0.
func sig(name string, v any) collect.Signal {
	return collect.Signal{Name: name, Value: v, Source: "test", CollectedAt: t0}
}

func sigErr(name, msg string) collect.Signal {
	return collect.Signal{Name: name, Source: "test", CollectedAt: t0, Error: msg}
}

// linuxReport is a healthy Ubuntu laptop's report, with overrides by name
// (a nil value removes the signal).
func linuxReport(seq uint64, over ...collect.Signal) Report {
	base := []collect.Signal{
		sig(collect.AgentVersion, "1.4.0"),
		sig(collect.OSName, "Ubuntu"),
		sig(collect.OSID, "ubuntu"),
		sig(collect.OSVersion, "24.04"),
		sig(collect.KernelVersion, "6.8.0-51-generic"),
		sig(collect.UptimeSeconds, int64(86400)),
		sig(collect.DiskFreeBytes, int64(120<<30)),
		sig(collect.DiskEncrypted, true),
		sig(collect.DiskEncryptionMethod, "luks2"),
		sig(collect.DiskEncryptionCipher, "aes-xts-plain64"),
		sig(collect.UpdatesPending, int64(3)),
		sig(collect.UpdatesSecurityPending, int64(0)),
		sigErr(collect.UpdatesSecurityOldestDays, "not available"),
		sig(collect.FirewallEnabled, true),
		sig(collect.FirewallProduct, "ufw"),
		sig(collect.ScreenlockEnabled, true),
		sig(collect.ScreenlockDelaySeconds, int64(300)),
		sig(collect.SecurebootEnabled, true),
		sig(collect.AppsInstalled, []collect.App{{Name: "firefox", Version: "133.0"}, {Name: "openssh-server", Version: "9.6"}, {Name: "crowdstrike-falcon-sensor", Version: "7.1"}}),
	}
	for _, o := range over {
		replaced := false
		for i := range base {
			if base[i].Name == o.Name {
				base[i], replaced = o, true
			}
		}
		if !replaced {
			base = append(base, o)
		}
	}
	out := base[:0]
	for _, s := range base {
		if s.Value != nil || s.Error != "" {
			out = append(out, s)
		}
	}
	return Report{Seq: seq, CollectedAt: t0, TimeZone: "Europe/Paris", Signals: out}
}

func signalNames(sigs []collect.Signal) string {
	var names []string
	for _, s := range sigs {
		names = append(names, s.Name)
	}
	return strings.Join(names, ",")
}

func storedSignals(t testing.TB, st *store.Store, id string) []collect.Signal {
	t.Helper()
	p, ok := st.Posture(id)
	if !ok {
		t.Fatalf("no posture for %s", id)
	}
	sigs, err := DecodeSignals(p.Signals)
	if err != nil {
		t.Fatal(err)
	}
	return sigs
}

func devID(i int) string { return fmt.Sprintf("dev_%06d", i) }

// parseFile compiles a config file from disk, as the server does.
func parseFile(path string) (*Config, error) {
	c, err := config.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return FromConfig(c)
}

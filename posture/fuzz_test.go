package posture

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/portier/portier/posture/collect"
	"gopkg.in/yaml.v3"
)

func FuzzParseReport(f *testing.F) {
	f.Add([]byte(`{"seq":1,"collected_at":"2025-03-11T10:00:00Z","time_zone":"Europe/Paris","signals":[{"name":"disk.encrypted","value":true,"source":"lsblk","collected_at":"2025-03-11T10:00:00Z"}]}`))
	f.Add([]byte(`{"seq":2,"signals":[{"name":"apps.installed","value":[{"name":"a","version":"1"}]},{"name":"uptime.seconds","value":5},{"name":"x.y","value":null}]}`))
	f.Add([]byte(`{"seq":3,"signals":[{"name":"location.coordinates","value":"1,2"},{"name":"firewall.enabled","error":"not available"}]}`))
	f.Add([]byte(`{"seq":18446744073709551615,"signals":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseReport(body)
		if err != nil {
			return
		}
		for _, s := range r.Signals {
			if !KnownSignal(s.Name) {
				t.Fatalf("unknown signal %q kept", s.Name)
			}
		}
		raw, err := json.Marshal(r.Signals)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := DecodeSignals(raw)
		if err != nil || len(back) != len(r.Signals) {
			t.Fatalf("round trip: %d -> %d, %v", len(r.Signals), len(back), err)
		}
		fast, err := encodeSignals(r.Signals)
		if err != nil {
			t.Fatalf("encodeSignals: %v", err)
		}
		back2, err := DecodeSignals(fast)
		if err != nil {
			t.Fatalf("decode encodeSignals output %s: %v", fast, err)
		}
		if !reflect.DeepEqual(back, back2) {
			t.Fatalf("encodeSignals differs from json.Marshal:\n%s\n%s", raw, fast)
		}
	})
}

func FuzzParseExternal(f *testing.F) {
	f.Add([]byte(`{"source":"falcon","device":{"serial":"S1"},"observed_at":"2025-03-11T09:58:00Z","signals":[{"name":"antivirus.running","value":true}]}`))
	f.Add([]byte(`{"device":{"portier_id":"d"},"observed_at":"2025-03-11T09:58:00Z","signals":[{"name":"apps.installed","value":[{"name":"x"}]}]}`))
	f.Add([]byte(`{"source":"a","device":{},"signals":[{"name":"location.coordinates","value":"1"}]}`))
	f.Add([]byte(`{"source":"x",`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = peekSource(body)
		_ = verifySignature([]byte("k"), body, string(body), time.Unix(1741687200, 0))
		rep, sigs, err := ParseExternal(body)
		if err != nil {
			return
		}
		if rep.Device.Serial == "" && rep.Device.PortierID == "" {
			t.Fatal("accepted a body without a device")
		}
		if len(sigs) != len(rep.Signals) {
			t.Fatalf("%d signals for %d entries", len(sigs), len(rep.Signals))
		}
		for _, s := range sigs {
			if !s.OK() || SignalGroup(s.Name) == GroupLocation {
				t.Fatalf("bad accepted signal %+v", s)
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(ladderPolicy))
	f.Add([]byte(wavePolicies))
	f.Add([]byte("compliance:\n  - {id: x, mode: report-only, enforce_for: {rollout: -a, waves: [[1], b, b]}, checks: {firewall: required}}\n"))
	f.Add([]byte("compliance:\n  - &a {id: x, checks: {firewall: required}}\n  - *a\nprivacy: {profiles: {byod: [security]}}\n"))
	f.Add([]byte("privacy:\n  location: {enabled: true, purpose: \"lost laptops only\", working_hours: {days: [fri-mon], from: \"22:00\", to: \"06:00\"}}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var root yaml.Node
		if yaml.Unmarshal(doc, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
			return
		}
		var comp, priv, src *yaml.Node
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			switch m.Content[i].Value {
			case "compliance":
				comp = m.Content[i+1]
			case "privacy":
				priv = m.Content[i+1]
			case "posture_sources":
				src = m.Content[i+1]
			}
		}
		c, err := Parse("fuzz.yaml", comp, priv, src)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, p := range c.Policies {
			if p.ID == "" {
				t.Fatal("policy without id")
			}
		}
	})
}

func TestCatalogLabelsEveryAgentSignal(t *testing.T) {
	for _, s := range collect.Specs() {
		if SignalGroup(s.Name) == GroupOther {
			t.Errorf("signal %s has no group and label in the catalog", s.Name)
		}
	}
}

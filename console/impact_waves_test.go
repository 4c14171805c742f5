package console

import (
	"context"
	"testing"
	"time"

	"github.com/portier/portier/policy"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

// TestImpactReplayKnowsRolloutWaves: a report-only policy enforced for a
// rollout wave (enforce_for) already denies that wave's people, so a
// draft that denies them too changes nothing for them; for everybody else
// the route still lets them through, so the same draft newly denies them.
func TestImpactReplayKnowsRolloutWaves(t *testing.T) {
	pols, err := policy.Parse("rules.yaml", []byte(`
policies:
  - id: managed
    mode: report-only
    enforce_for: {rollout: mdm, waves: [pilot]}
    allow:
      or:
        - id: enrolled
          device: {managed: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	draft, err := ParseDraft("id: managed\nallow:\n  or:\n    - id: enrolled\n      device: {managed: true}\n")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenBolt(t)
	dl, err := st.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	const route = "https://wiki.localhost"
	at := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	var recs []*store.DecisionRecord
	for _, who := range []string{"pilot@example.com", "later@example.com"} {
		r := &store.DecisionRecord{First: at, Last: at, Count: 1, Route: route, User: who, Outcome: "allow"}
		store.RecordTimes(r)
		recs = append(recs, r)
	}
	if err := dl.AppendDecisions(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	waves := func(email string, _ []string) []string {
		if email == "pilot@example.com" {
			return []string{"mdm/pilot"}
		}
		return nil
	}
	current := map[string]Enforced{route: {Policy: pols[0]}}
	im, err := ReplayImpact(context.Background(), dl, []string{route}, current, draft, waves, at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if im.NewlyDenied.Requests != 1 || len(im.NewlyDenied.Groups) != 1 || len(im.NewlyDenied.Groups[0].Users) != 1 ||
		im.NewlyDenied.Groups[0].Users[0] != "later@example.com" {
		t.Errorf("newly denied: %+v, want later@example.com only", im.NewlyDenied)
	}
	if im.Unchanged.Requests != 1 {
		t.Errorf("unchanged: %+v, want the pilot's request (already denied by the wave's enforcement)", im.Unchanged)
	}

	// Without the plans' waves, both would be newly denied.
	im, err = ReplayImpact(context.Background(), dl, []string{route}, current, draft, nil, at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if im.NewlyDenied.Requests != 2 {
		t.Errorf("without waves, newly denied %d requests, want 2", im.NewlyDenied.Requests)
	}
}

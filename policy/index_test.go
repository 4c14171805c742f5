package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/store"
)

// TestIndexMatchesScan checks that the identity index of large policies
// changes nothing: random policies and inputs get the same decision with
// and without it.
func TestIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	groups := []string{"g0", "g1", "g2", "g3", "g4", "g5"}
	emails := []string{"a@x.io", "b@x.io", "c@y.io"}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	crit := func() string {
		switch rng.IntN(9) {
		case 0:
			return "{group: " + pick(groups) + "}"
		case 1:
			return fmt.Sprintf("{group: {any: [%s, %s]}}", pick(groups), pick(groups))
		case 2:
			return fmt.Sprintf("{group: {all: [%s, %s]}}", pick(groups), pick(groups))
		case 3:
			return fmt.Sprintf("{email: {in: [%s, %s]}}", pick(emails), strings.ToUpper(pick(emails)))
		case 4:
			return fmt.Sprintf("{device: {trust: {gte: %s}}}", pick([]string{"low", "medium", "high"}))
		case 5:
			return "{mfa: {max_age: 10m}}"
		case 6:
			return "{not: [{group: " + pick(groups) + "}]}"
		case 7:
			return fmt.Sprintf("{or: [{group: %s}, {country: FR}]}", pick(groups))
		}
		return "{device: {ownership: byod}}"
	}
	rule := func(i int, allow bool) string {
		var items []string
		if !allow {
			items = append(items, "{country: DE}")
		} else if rng.IntN(2) == 0 {
			items = append(items, "{mfa: {max_age: 10m}}")
		}
		for range 1 + rng.IntN(3) {
			items = append(items, crit())
		}
		s := fmt.Sprintf("      - id: r%d\n        and: [%s]\n", i, strings.Join(items, ", "))
		if allow && rng.IntN(3) == 0 {
			s += "        restrictions: [" + pick([]string{"read_only", "no_store", "read_only, no_store"}) + "]\n"
		}
		return s
	}
	seen := map[Outcome]int{}
	for round := range 200 {
		var src strings.Builder
		src.WriteString("  - id: p\n    allow:\n")
		for i := range 16 + rng.IntN(20) {
			src.WriteString(rule(i, true))
		}
		src.WriteString("    deny:\n")
		for i := range 16 + rng.IntN(4) {
			src.WriteString(rule(100+i, false))
		}
		p := mustParse(t, src.String())["p"]
		if p.allowIdx == nil || p.denyIdx == nil {
			t.Fatal("large policy not indexed")
		}
		scan := *p
		scan.allowIdx, scan.denyIdx = nil, nil
		for range 50 {
			in := baseInput()
			in.Groups = nil
			for _, g := range groups {
				if rng.IntN(3) == 0 {
					in.Groups = append(in.Groups, g)
				}
			}
			in.Email = pick(emails)
			if rng.IntN(2) == 0 {
				in.Email = strings.ToUpper(in.Email)
			}
			in.Device.Trust = store.Trust(rng.IntN(4))
			in.MFAAt = testNow.Add(-time.Duration(rng.IntN(60)) * time.Minute)
			in.Device.Ownership = store.Ownership(pick([]string{"corporate", "byod"}))
			in.Country = pick([]string{"FR", "FR", "FR", "DE"})
			got, want := p.Evaluate(&in), scan.Evaluate(&in)
			seen[got.Outcome]++
			// Without an index the closest rule is searched among all rules;
			// with one, among the candidates: reasons after no_match may differ.
			if got.Outcome == Deny && len(got.Rules) == 0 {
				got.Reasons, want.Reasons = got.Reasons[:1], want.Reasons[:1]
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: indexed %+v\nscan %+v\ninput %+v\n%s", round, got, want, in, src.String())
			}
		}
	}
	for _, o := range []Outcome{Allow, AllowRestricted, StepUp, Deny} {
		if seen[o] < 50 {
			t.Errorf("only %d %v decisions compared: %v", seen[o], o, seen)
		}
	}
}

package rollout_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rollout"
	"github.com/portier/portier/store"
	"github.com/portier/portier/store/storetest"
)

var day0 = time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)

func plan() *store.RolloutPlan {
	return &store.RolloutPlan{ID: "mdm-2027", Name: "MDM 2027", Policies: []string{"finance"},
		Waves: []store.RolloutWave{
			{Name: "pilot", Groups: []string{"it"}, People: []string{"Ada@Example.com"}, Start: day0},
			{Name: "sales", Departments: []string{"sales"}, Start: day0.AddDate(0, 0, 14)},
			{Name: "rest", Everyone: true, Start: day0.AddDate(0, 0, 28)},
		}}
}

func TestValidateNamesTheFieldAtFault(t *testing.T) {
	for name, c := range map[string]struct {
		edit  func(*store.RolloutPlan)
		field string
	}{
		"bad id":             {func(p *store.RolloutPlan) { p.ID = "Bad Id" }, "id"},
		"no name":            {func(p *store.RolloutPlan) { p.Name = " " }, "name"},
		"no waves":           {func(p *store.RolloutPlan) { p.Waves = nil }, "waves"},
		"waves out of order": {func(p *store.RolloutPlan) { p.Waves[1].Start = day0.Add(-time.Hour) }, "waves[1].start"},
		"duplicate wave":     {func(p *store.RolloutPlan) { p.Waves[1].Name = "pilot" }, "waves[1].name"},
		"empty wave":         {func(p *store.RolloutPlan) { p.Waves[1].Departments = nil }, "waves[1]"},
		"everyone not last":  {func(p *store.RolloutPlan) { p.Waves[0].Everyone = true }, "waves[0].everyone"},
		"bad e-mail":         {func(p *store.RolloutPlan) { p.Waves[0].People = []string{"not an address"} }, "waves[0].people[0]"},
		"policy twice":       {func(p *store.RolloutPlan) { p.Policies = []string{"a", "a"} }, "policies[1]"},
		"deadline missing":   {func(p *store.RolloutPlan) { p.Coexistence = &store.Coexistence{} }, "coexistence.deadline"},
		"rate above 1":       {func(p *store.RolloutPlan) { p.Exit.MinCompliance = 1.5 }, "exit.min_compliance"},
	} {
		p := plan()
		c.edit(p)
		var ae *apperr.Error
		if err := rollout.Validate(p); !errors.As(err, &ae) || ae.Field != c.field {
			t.Errorf("%s: got %v, want an error on field %q", name, err, c.field)
		}
	}
	p := plan()
	if err := rollout.Validate(p); err != nil {
		t.Fatalf("valid plan refused: %v", err)
	}
	if p.Waves[0].People[0] != "ada@example.com" {
		t.Errorf("e-mail not normalised: %q", p.Waves[0].People[0])
	}
}

func TestDueAppliesWavesInOrderOnTheirDate(t *testing.T) {
	p := plan()
	if got := rollout.Due(p, day0.Add(-time.Minute)); got != -1 {
		t.Errorf("before the pilot's date: due %d", got)
	}
	if got := rollout.Due(p, day0.AddDate(0, 0, 20)); got != 0 {
		t.Errorf("pilot not applied yet, sales' date passed: due %d, want the pilot first", got)
	}
	p.Waves[0].AppliedAt = day0
	if got := rollout.Due(p, day0.AddDate(0, 0, 20)); got != 1 {
		t.Errorf("due %d, want sales", got)
	}
	p.Paused = true
	if got := rollout.Due(p, day0.AddDate(0, 0, 20)); got != -1 {
		t.Errorf("paused plan: due %d", got)
	}
	if got := rollout.Current(p); got != 0 {
		t.Errorf("current %d, want the pilot", got)
	}
}

func TestMembershipFirstWaveThatNamesThePerson(t *testing.T) {
	st := storetest.OpenBolt(t)
	ctx := context.Background()
	p := plan()
	if err := rollout.Validate(p); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx,
		store.Put(p),
		store.Put(&store.User{ID: "u1", Email: "bob@example.com", Groups: []string{"it"}}),
		store.Put(&store.Device{ID: "d1", OwnerEmail: "carol@example.com", Department: "sales"}),
		store.Put(&store.ExpectedDevice{ID: "S9", OwnerEmail: "dan@example.com", Department: "sales"}),
	); err != nil {
		t.Fatal(err)
	}
	x := rollout.Build(st)
	for _, c := range []struct {
		who  rollout.Person
		want string
	}{
		{rollout.Person{Email: "ada@example.com"}, "mdm-2027/pilot"},                         // named, in another case
		{rollout.Person{Email: "bob@example.com"}, "mdm-2027/pilot"},                         // stored group
		{rollout.Person{Email: "eve@example.com", Groups: []string{"it"}}, "mdm-2027/pilot"}, // session group
		{rollout.Person{Email: "carol@example.com"}, "mdm-2027/sales"},                       // device's department
		{rollout.Person{Email: "dan@example.com"}, "mdm-2027/sales"},                         // expected device's department
		{rollout.Person{Email: "zed@example.com"}, "mdm-2027/rest"},                          // everyone left
	} {
		got := x.Waves(c.who)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%v: waves %v, want [%s]", c.who, got, c.want)
		}
	}
	p.Waves = p.Waves[:2]
	x = rollout.Build(storeWith(t, p))
	if got := x.Waves(rollout.Person{Email: "zed@example.com"}); len(got) != 0 {
		t.Errorf("without an everyone wave, a stranger is in %v", got)
	}
}

func storeWith(t *testing.T, recs ...store.Record) *store.Store {
	st := storetest.OpenBolt(t)
	ops := make([]store.Op, len(recs))
	for i, r := range recs {
		ops[i] = store.Put(r)
	}
	if err := st.Write(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	return st
}

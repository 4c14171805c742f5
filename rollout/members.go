package rollout

import (
	"slices"

	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Index answers which wave of each plan a person is in. Build it from the
// store's read model; it is immutable, so one can be shared by every
// request until the next store change builds a new one.
type Index struct {
	plans  []*store.RolloutPlan
	depts  map[string][]string // folded e-mail → departments of their devices and expected devices
	groups map[string][]string // folded e-mail → the person's stored groups
}

// Build indexes st's plans, people and departments.
func Build(st *store.Store) *Index {
	x := &Index{plans: st.RolloutPlans(), depts: map[string][]string{}, groups: map[string][]string{}}
	if len(x.plans) == 0 {
		return x
	}
	addDept := func(email, dept string) {
		if email == "" || dept == "" {
			return
		}
		k := mailaddr.Fold(email)
		if !slices.Contains(x.depts[k], dept) {
			x.depts[k] = append(x.depts[k], dept)
		}
	}
	for _, d := range st.Devices() {
		addDept(d.OwnerEmail, d.Department)
	}
	for _, e := range st.ExpectedDevices() {
		addDept(e.OwnerEmail, e.Department)
	}
	for _, u := range st.Users() {
		if len(u.Groups) > 0 {
			x.groups[mailaddr.Fold(u.Email)] = u.Groups
		}
	}
	return x
}

// Plans are the indexed plans, by id.
func (x *Index) Plans() []*store.RolloutPlan { return x.plans }

// Plan returns the indexed plan with id, nil if none.
func (x *Index) Plan(id string) *store.RolloutPlan {
	for _, p := range x.plans {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Person is who is asking: an e-mail address and the groups the session
// carries (an identity provider's groups may be known only there). Groups
// stored on the person's account count as well.
type Person struct {
	Email  string
	Groups []string
}

// WaveOf is the index of the wave of p the person is in, -1 when none.
func (x *Index) WaveOf(p *store.RolloutPlan, who Person) int { return x.waveOf(p, who, "") }

// waveOf is WaveOf counting one more department for the person (a
// device's own, which the index may not have yet).
func (x *Index) waveOf(p *store.RolloutPlan, who Person, dept string) int {
	k := mailaddr.Fold(who.Email)
	for i, w := range p.Waves {
		if w.Everyone && who.Email != "" {
			return i
		}
		if slices.ContainsFunc(w.People, func(e string) bool { return mailaddr.Fold(e) == k }) ||
			anyIn(w.Groups, who.Groups) || anyIn(w.Groups, x.groups[k]) || anyIn(w.Departments, x.depts[k]) ||
			(dept != "" && slices.Contains(w.Departments, dept)) {
			return i
		}
	}
	return -1
}

// DeviceWaves are the keys of the waves a device's owner is in: by the
// owner's e-mail address, their stored groups and departments, and the
// device's own department. A device without an owner is in a wave only
// through its department. Nil when no plan exists.
func (x *Index) DeviceWaves(d *store.Device) []string {
	if len(x.plans) == 0 || (d.OwnerEmail == "" && d.Department == "") {
		return nil
	}
	var out []string
	who := Person{Email: d.OwnerEmail}
	for _, p := range x.plans {
		if i := x.waveOf(p, who, d.Department); i >= 0 {
			out = append(out, Key(p.ID, p.Waves[i].Name))
		}
	}
	return out
}

// Waves are the keys (Key) of the waves the person is in, one per plan
// that has them in a wave, whether or not the wave has started.
func (x *Index) Waves(who Person) []string {
	var out []string
	for _, p := range x.plans {
		if i := x.WaveOf(p, who); i >= 0 {
			out = append(out, Key(p.ID, p.Waves[i].Name))
		}
	}
	return out
}

func anyIn(want, have []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// Package rollout holds rollout plans' rules: what makes a plan valid, who
// belongs to which wave, and (in the files that build on them) how a
// wave's date moves the plan's policies to enforce for its people and how
// the coexistence deadline treats unmanaged devices.
//
// A plan is a store.RolloutPlan. Membership is computed, never stored: a
// person is in the first wave of a plan that names one of their groups,
// their department (the department of any of their devices or expected
// devices) or their e-mail address, so moving someone to another group
// moves them to another wave.
package rollout

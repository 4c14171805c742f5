package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// AuditWaveApplied is the audit action of a wave step: the plan's wave is
// marked applied, with the policy versions written and the policies
// skipped in its detail.
const AuditWaveApplied = "rollout.wave_applied"

// Applier takes the scheduled steps of rollout plans: on a wave's date, it
// writes a new version of each of the plan's policies that enforces it for
// the wave's people, then marks the wave applied. Every replica may run
// it: compare-and-set on the policies and on the plan lets one write each
// step, and a step that finds its work already done writes nothing.
type Applier struct {
	// Store holds the plans and the policies.
	Store *store.Store
	// Rules writes the policy versions: the same checked, audited,
	// compare-and-set path as an API write or a scheduled promotion.
	Rules *rules.Service
	// Log gets a line per wave applied and per policy skipped.
	Log *slog.Logger
}

// Apply applies every plan's due wave at now (one wave per plan per call:
// a plan late by several waves catches up one call at a time, in order).
// It returns how many waves it marked applied here; a plan another
// replica or an admin changed meanwhile is left for the next call.
func (a *Applier) Apply(ctx context.Context, now time.Time) (int, error) {
	if a.Rules.Base().ConfigPolicies == config.PoliciesInFile {
		return 0, nil // the file owns the policies: it would undo each step
	}
	n := 0
	var errs []error
	for _, p := range a.Store.RolloutPlans() {
		i := Due(p, now)
		if i < 0 {
			continue
		}
		err := a.applyWave(ctx, p, i, now)
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrConflict):
			// Another replica took the step, or someone edited the plan or
			// a policy meanwhile: the next call sees it and goes on.
		default:
			errs = append(errs, fmt.Errorf("rollout plan %q, wave %q: %w", p.ID, p.Waves[i].Name, err))
		}
	}
	return n, errors.Join(errs...)
}

// applyWave writes the policies' versions for wave i of p, then marks the
// wave applied.
func (a *Applier) applyWave(ctx context.Context, p *store.RolloutPlan, i int, now time.Time) error {
	w := p.Waves[i]
	comment := fmt.Sprintf("rollout plan %q: wave %q reached its date (%s)", p.Name, w.Name, w.Start.UTC().Format(time.DateOnly))
	var written, skipped []string
	for _, ref := range attached(p) {
		v, why, err := a.step(ctx, p, w, ref, comment)
		switch {
		case err != nil:
			return err
		case why != "":
			skipped = append(skipped, ref.typ+"/"+ref.id+": "+why)
			a.Log.Warn("rollout: policy skipped", "plan", p.ID, "wave", w.Name, "policy", ref.typ+"/"+ref.id, "why", why)
		case v > 0:
			written = append(written, fmt.Sprintf("%s/%s@%d", ref.typ, ref.id, v))
		}
	}
	np := *p
	np.Waves = slices.Clone(p.Waves)
	np.Waves[i].AppliedAt = now.UTC()
	np.Version = p.Version + 1
	ev := store.NewAuditEvent(now, Author(p.ID), AuditWaveApplied, "rollout_plan/"+p.ID)
	ev.Detail = map[string]string{"wave": w.Name, "comment": comment}
	if len(written) > 0 {
		ev.Detail["written"] = strings.Join(written, ",")
	}
	if len(skipped) > 0 {
		ev.Detail["skipped"] = strings.Join(skipped, "; ")
	}
	if err := a.Store.Write(ctx, store.PutIf(&np, p.Version), store.Put(ev)); err != nil {
		return err
	}
	a.Log.Info("rollout: wave applied", "plan", p.ID, "wave", w.Name, "written", written, "skipped", skipped)
	return nil
}

// ruleRef is one policy a plan attaches.
type ruleRef struct{ typ, id string }

func attached(p *store.RolloutPlan) []ruleRef {
	out := make([]ruleRef, 0, len(p.Policies)+len(p.Compliance))
	for _, id := range p.Policies {
		out = append(out, ruleRef{store.RulePolicy, id})
	}
	for _, id := range p.Compliance {
		out = append(out, ruleRef{store.RuleCompliance, id})
	}
	return out
}

// step writes one policy's version for wave w: its version number, or 0
// when there was nothing to write (already done, or skipped: why says
// why).
func (a *Applier) step(ctx context.Context, p *store.RolloutPlan, w store.RolloutWave, ref ruleRef, comment string) (uint64, string, error) {
	cur, ok := a.Store.RuleOf(ref.typ, ref.id)
	if !ok || cur.Deleted {
		return 0, "missing", nil
	}
	text, why, err := NextText(cur.Text, p.ID, w)
	if err != nil {
		return 0, "", fmt.Errorf("%s %q: %w", ref.typ, ref.id, err)
	}
	if text == nil {
		return 0, why, nil
	}
	v := cur.Version
	r, err := a.Rules.Put(ctx, rules.Actor{Name: Author(p.ID)},
		rules.Change{Type: ref.typ, ID: ref.id, IfMatch: &v, Body: text, Comment: comment, File: fmt.Sprintf("%s %q (rollout plan %q)", ref.typ, ref.id, p.ID)})
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Stale {
		return 0, "", fmt.Errorf("%s %q: %w", ref.typ, ref.id, store.ErrConflict)
	}
	if err != nil {
		return 0, "", err
	}
	return r.Version, "", nil
}

// Reasons a policy is not written by a wave step (besides "missing").
const (
	whyEnforced  = "already enforced for everyone"
	whyDraft     = "a draft: a rollout plan never puts a draft in front of traffic"
	whyOtherPlan = "its enforce_for names another rollout plan"
)

// NextText is the text of a policy (access or compliance: the same keys)
// once wave w of plan is applied: mode report-only with w added to
// `enforce_for.waves`, or, for a wave that takes everyone, mode enforce
// without enforce_for (nor shadows, which only a report-only policy may
// have). It returns nil when there is nothing to write, with the reason
// when the policy is skipped ("" when the step was already taken: the
// wave is already in its enforce_for).
func NextText(text, plan string, w store.RolloutWave) ([]byte, string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, "", err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, "", errors.New("the stored text is not a mapping")
	}
	m := doc.Content[0]
	mode := "enforce"
	if v := value(m, "mode"); v != nil {
		mode = v.Value
	}
	switch mode {
	case "enforce":
		return nil, whyEnforced, nil
	case "draft":
		return nil, whyDraft, nil
	}
	ef := value(m, "enforce_for")
	var waves []string
	if ef != nil {
		if r := value(ef, "rollout"); r == nil || r.Value != plan {
			return nil, whyOtherPlan, nil
		}
		if ws := value(ef, "waves"); ws != nil {
			for _, n := range ws.Content {
				waves = append(waves, n.Value)
			}
			if ws.Kind == yaml.ScalarNode {
				waves = []string{ws.Value}
			}
		}
	}
	if w.Everyone {
		drop(m, "enforce_for")
		drop(m, "shadows")
		set(m, "mode", scalar("enforce"))
	} else {
		if slices.Contains(waves, w.Name) {
			return nil, "", nil // the step was taken already (a replica stopped before marking the wave)
		}
		waves = append(waves, w.Name)
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, s := range waves {
			list.Content = append(list.Content, scalar(s))
		}
		set(m, "enforce_for", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			scalar("rollout"), scalar(plan), scalar("waves"), list}})
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, "", err
	}
	if err := enc.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), "", nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// value is the value of key in mapping m, nil when absent.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set replaces key's value in m, or adds it after mode (or at the end).
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	at := len(m.Content)
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "mode" {
			at = i + 2
		}
	}
	m.Content = slices.Insert(m.Content, at, scalar(key), v)
}

// drop removes key from m.
func drop(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = slices.Delete(m.Content, i, i+2)
			return
		}
	}
}

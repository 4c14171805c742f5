package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/store"
)

// ScheduleAuthor is the author of versions written by scheduled promotions.
const ScheduleAuthor = "schedule"

// Promote applies every scheduled promotion that is due (access and
// compliance policies): the policy's new version has the scheduled mode
// and no schedule. Replicas may all run it:
// compare-and-set lets one write each promotion, the others skip it. It
// returns how many it applied here.
func (s *Service) Promote(ctx context.Context) (int, error) {
	if s.Base().ConfigPolicies == config.PoliciesInFile {
		return 0, nil // the file owns the rules: it would undo the promotion
	}
	now := s.Clock().UTC()
	n := 0
	var errs []error
	for _, r := range append(s.Store.Policies(), s.Store.Compliance()...) {
		if r.Deleted || r.PromoteAt.IsZero() || r.PromoteAt.After(now) {
			continue
		}
		err := s.promote(ctx, r, now)
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrConflict):
			// Another replica promoted it, or someone edited it meanwhile.
		default:
			errs = append(errs, fmt.Errorf("promote %s %q: %w", r.Type, r.ID, err))
		}
	}
	return n, errors.Join(errs...)
}

func (s *Service) promote(ctx context.Context, r *store.Rule, now time.Time) error {
	d, err := DocOf(r)
	if err != nil {
		return err
	}
	text, err := marshal(withMode(d.Node, r.PromoteTo))
	if err != nil {
		return err
	}
	nd, err := ParseDoc(r.Type, fmt.Sprintf("%s %q", r.Type, r.ID), text, r.ID)
	if err != nil {
		return err
	}
	keepInForce(r, nd)
	if err := s.check(r.Type, r.ID, nd); err != nil {
		return err
	}
	next := &store.Rule{ID: r.ID, Type: r.Type, Version: r.Version + 1, Text: nd.Text, Author: ScheduleAuthor, At: now,
		Comment: fmt.Sprintf("scheduled promotion to %s (set in version %d)", r.PromoteTo, r.Version)}
	if nd.InForce != nil {
		next.InForce, next.InForceVersion = nd.InForce.Text, nd.InForceVersion
	}
	err = s.commit(ctx, Actor{Name: ScheduleAuthor}, r, next, r.Type+".promote")
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Stale {
		return store.ErrConflict
	}
	return err
}

// PromoteLogged applies due promotions once, as Promote, and logs what
// it did; a failure is retried at the next call.
func (s *Service) PromoteLogged(ctx context.Context, log *slog.Logger) {
	if n, err := s.Promote(ctx); err != nil {
		log.Error("rules: scheduled promotion failed; will retry", "err", err)
	} else if n > 0 {
		log.Info("rules: scheduled promotions applied", "policies", n)
	}
}

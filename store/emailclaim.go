package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/mailaddr"
)

// emailClaimPrefix starts the id of the Claim that makes an e-mail address
// one person's: "email/" and the folded address, By the user's id.
const emailClaimPrefix = "email/"

// EmailClaimID is the id of the claim on an address (folded by
// mailaddr.Fold, as the e-mail index is).
func EmailClaimID(email string) string { return emailClaimPrefix + mailaddr.Fold(email) }

// withEmailClaims adds to muts the claims that keep e-mail addresses
// unique in the durable store, whatever replica writes: a person given an
// address (created, or changed to it) Creates its claim, so that of two
// writers racing for one address exactly one commits and the other gets
// ErrExists; the address a person leaves (changed, or deleted) has its
// claim deleted when the person held it. The memdb index alone cannot
// refuse: it is one replica's view, and keeps one entry per address.
//
// The old address is read from this replica's view; when another replica
// changed it meanwhile, the claim it held stays until ClaimEmails or an
// administrator frees it (it can only refuse, never let a duplicate in).
func (s *Store) withEmailClaims(muts []Mutation) ([]Mutation, error) {
	var txn *memdb.Txn
	var extra []Mutation
	for _, m := range muts {
		if m.Kind != KindUser {
			continue
		}
		if txn == nil {
			txn = s.Txn()
		}
		var oldID, newID string
		if old, ok := first[User](txn, KindUser, "id", m.ID); ok && old.Email != "" {
			oldID = EmailClaimID(old.Email)
		}
		if m.Value != nil {
			r, err := Decode(KindUser, m.Value)
			if err != nil {
				return nil, err
			}
			if u := r.(*User); u.Email != "" {
				newID = EmailClaimID(u.Email)
			}
		}
		if oldID == newID {
			continue
		}
		if newID != "" {
			b, err := Encode(&Claim{ID: newID, By: m.ID})
			if err != nil {
				return nil, err
			}
			extra = append(extra, Mutation{Kind: KindClaim, ID: newID, Value: b, Create: true})
		}
		if c, ok := first[Claim](txn, KindClaim, "id", oldID); oldID != "" && ok && c.By == m.ID {
			extra = append(extra, Mutation{Kind: KindClaim, ID: oldID})
		}
	}
	return append(muts, extra...), nil
}

// emailTaken names the address a refused write tried to claim when
// another person holds it now (a 409 on field email), or returns err as
// it is when the refusal was about another record.
func (s *Store) emailTaken(claims []Mutation, err error) error {
	txn := s.Txn()
	for _, m := range claims {
		if !m.Create {
			continue
		}
		r, derr := Decode(KindClaim, m.Value)
		if derr != nil {
			continue
		}
		if c, ok := first[Claim](txn, KindClaim, "id", m.ID); ok && c.By != r.(*Claim).By {
			return &apperr.Error{Code: apperr.Conflict, Field: "email", Err: err,
				Msg: fmt.Sprintf("The e-mail address %s belongs to another person.", strings.TrimPrefix(m.ID, emailClaimPrefix))}
		}
	}
	return err
}

// ClaimEmails gives every person whose address has no claim yet (people
// written before addresses were claimed) its claim, one write each, and
// returns the addresses already claimed by someone else: duplicates that
// an administrator must resolve (one of the two accounts should go).
func ClaimEmails(ctx context.Context, s *Store) (duplicates []string, err error) {
	for _, u := range s.Users() {
		if u.Email == "" {
			continue
		}
		id := EmailClaimID(u.Email)
		if c, ok := first[Claim](s.Txn(), KindClaim, "id", id); ok {
			if c.By != u.ID {
				duplicates = append(duplicates, u.Email)
			}
			continue
		}
		err := s.Write(ctx, Create(&Claim{ID: id, By: u.ID}))
		switch {
		case errors.Is(err, ErrExists):
			if c, ok := first[Claim](s.Txn(), KindClaim, "id", id); !ok || c.By != u.ID {
				duplicates = append(duplicates, u.Email)
			}
		case err != nil:
			return duplicates, err
		}
	}
	return duplicates, nil
}

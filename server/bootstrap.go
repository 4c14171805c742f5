package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portier/portier/console"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// bootstrapTokenID is fixed so that replicas racing on a new database create
// one bootstrap token, not several.
const bootstrapTokenID = "tok_bootstrap"

// MinBootstrapTokenLength is the shortest PORTIER_BOOTSTRAP_TOKEN accepted.
const MinBootstrapTokenLength = 32

// setupLinkTTL is how long a first-run set-up link stays valid.
const setupLinkTTL = 24 * time.Hour

// bootstrap gives a brand-new store its first way in: the operator's
// PORTIER_BOOTSTRAP_TOKEN as an owner API token, or else a one-time set-up
// link for the first owner account. It returns the link, if one was made.
func bootstrap(ctx context.Context, st *store.Store, token, externalURL string, now time.Time) (string, error) {
	fresh := len(st.Users()) == 0 && len(st.Tokens()) == 0
	if !fresh {
		return "", nil
	}
	if token != "" {
		if len(token) < MinBootstrapTokenLength {
			return "", fmt.Errorf("PORTIER_BOOTSTRAP_TOKEN must have at least %d characters", MinBootstrapTokenLength)
		}
		tok := &store.Token{ID: bootstrapTokenID, Name: "bootstrap (PORTIER_BOOTSTRAP_TOKEN)", Role: console.RoleOwner,
			SecretHash: identity.HashSecret(token), CreatedBy: "system", CreatedAt: now}
		ev := store.NewAuditEvent(now, "system", "token.bootstrap", tok.ID)
		err := st.Write(ctx, store.Create(tok), store.Put(ev))
		if errors.Is(err, store.ErrExists) {
			return "", nil // another replica did it
		}
		return "", err
	}
	secret := console.NewSecret()
	inv := &store.Invite{ID: identity.HashSecret(secret), Role: console.RoleOwner, CreatedAt: now, ExpiresAt: now.Add(setupLinkTTL)}
	ev := store.NewAuditEvent(now, "system", "invite.setup_link", "")
	if err := st.Write(ctx, store.Create(inv), store.Put(ev)); err != nil {
		return "", err
	}
	return externalURL + "/setup?token=" + secret, nil
}

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

// setupLinkBlob keeps the outstanding set-up link's secret (sealed on
// PostgreSQL) so that every replica, and every restart before an owner
// exists, prints the same link instead of minting another one. It is
// deleted once the store has an owner or a token.
const setupLinkBlob = "server/setup-link"

// bootstrap gives a brand-new store its first way in: the operator's
// PORTIER_BOOTSTRAP_TOKEN as an owner API token, or else a one-time set-up
// link for the first owner account. It returns the link, if there is one.
// The caller holds the first-run lock, so of replicas starting together
// exactly one creates the token or the link, and the others find it.
// sealer may be nil (the embedded store keeps the secret in the 0600 data
// dir, beside the CA keys).
func bootstrap(ctx context.Context, st *store.Store, sealer identity.Sealer, token, externalURL string, now time.Time) (string, error) {
	fresh := len(st.Users()) == 0 && len(st.Tokens()) == 0
	if !fresh {
		if _, ok := st.Blob(setupLinkBlob); ok {
			return "", st.Write(ctx, store.Delete(store.KindBlob, setupLinkBlob))
		}
		return "", nil
	}
	if token != "" {
		if len(token) < MinBootstrapTokenLength {
			return "", fmt.Errorf("PORTIER_BOOTSTRAP_TOKEN must have at least %d characters", MinBootstrapTokenLength)
		}
		tok := &store.Token{ID: bootstrapTokenID, Name: "bootstrap (PORTIER_BOOTSTRAP_TOKEN)", Role: console.RoleOwner,
			SecretHash: identity.HashSecret(token), CreatedBy: "system", CreatedAt: now, ServiceAccount: "bootstrap"}
		ev := store.NewAuditEvent(now, "system", "token.bootstrap", tok.ID)
		err := st.Write(ctx, store.Create(tok), store.Put(ev))
		if errors.Is(err, store.ErrExists) {
			return "", nil // another replica did it
		}
		return "", err
	}
	link := func(secret string) string { return externalURL + "/setup?token=" + secret }
	if secret, ok := outstandingSetupSecret(st, sealer, now); ok {
		return link(secret), nil
	}
	secret := console.NewSecret()
	sealed := []byte(secret)
	if sealer != nil {
		var err error
		if sealed, err = sealer.Seal([]byte(secret), []byte(setupLinkBlob)); err != nil {
			return "", err
		}
	}
	inv := &store.Invite{ID: identity.HashSecret(secret), Role: console.RoleOwner, CreatedAt: now, ExpiresAt: now.Add(setupLinkTTL)}
	ev := store.NewAuditEvent(now, "system", "invite.setup_link", "")
	if err := st.Write(ctx, store.Create(inv), store.Put(&store.Blob{ID: setupLinkBlob, Data: sealed}), store.Put(ev)); err != nil {
		return "", err
	}
	return link(secret), nil
}

// outstandingSetupSecret returns the secret of the stored set-up link if
// that link can still be used.
func outstandingSetupSecret(st *store.Store, sealer identity.Sealer, now time.Time) (string, bool) {
	b, ok := st.Blob(setupLinkBlob)
	if !ok {
		return "", false
	}
	data := b.Data
	if sealer != nil {
		var err error
		if data, err = sealer.Open(b.Data, []byte(setupLinkBlob)); err != nil {
			return "", false // sealed under another password: make a new link
		}
	}
	secret := string(data)
	inv, ok := st.Invite(identity.HashSecret(secret))
	if !ok || !now.Before(inv.ExpiresAt) || st.Claimed("invite/"+inv.ID) {
		return "", false
	}
	return secret, true
}

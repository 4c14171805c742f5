package identity

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/config"
	"github.com/portier/portier/mailaddr"
)

// CallbackPath is the console path every identity provider redirects back
// to (register <external URL>/auth/oidc/callback as the redirect URI).
const CallbackPath = "/auth/oidc/callback"

// Discovery timing: one attempt takes at most discoverTimeout, and a provider
// that was down is asked again at most every discoverRetry.
const (
	discoverTimeout = 10 * time.Second
	discoverRetry   = 10 * time.Second
)

// ProviderInfo is an identity provider as the sign-in page lists it.
type ProviderInfo struct {
	ID   string
	Name string
}

// provider is one configured OpenID Connect provider. Its discovery
// document is fetched lazily: until it is, sign-in with it answers
// "provider unavailable" and the rest of Portier works.
type provider struct {
	id, name    string
	issuer      string
	groupsClaim string
	// roles maps a console role to the provider's groups that grant it
	// (config: identity_providers[].roles).
	roles map[string][]string
	// allowedDomains are the e-mail domains the provider is trusted for
	// (normalised); empty: it creates accounts in any domain but links to
	// no existing account by e-mail.
	allowedDomains []string
	now            func() time.Time

	discoverMu sync.Mutex // one discovery at a time

	mu       sync.Mutex
	conf     *oauth2.Config // shared: it caches the token endpoint's auth style
	op       *oidc.Provider
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
	lastErr  error
}

func newProvider(c config.IdP, redirectURL string, now func() time.Time) (*provider, error) {
	secret := c.ClientSecret
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("identity provider %q: read client_secret_file: %w", c.ID, err)
		}
		secret = strings.TrimSpace(string(b))
	}
	scopes := slices.Clone(c.Scopes)
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	p := &provider{
		id: c.ID, name: c.Name, issuer: c.Issuer, groupsClaim: c.GroupsClaim, now: now, roles: c.Roles,
		conf: &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, RedirectURL: redirectURL, Scopes: scopes},
	}
	if p.name == "" {
		p.name = c.ID
	}
	for _, d := range c.AllowedDomains {
		n, err := mailaddr.NormalizeDomain(d)
		if err != nil {
			return nil, fmt.Errorf("identity provider %q: allowed_domains: %q is not a domain name", c.ID, d)
		}
		p.allowedDomains = append(p.allowedDomains, n)
	}
	if p.groupsClaim == "" {
		p.groupsClaim = "groups"
	}
	return p, nil
}

func (p *provider) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.op != nil
}

// discover fetches the discovery document, unless it is known already or
// the last attempt was too recent. ctx carries the HTTP client.
func (p *provider) discover(ctx context.Context, log *slog.Logger) error {
	p.discoverMu.Lock()
	defer p.discoverMu.Unlock()
	p.mu.Lock()
	if p.op != nil {
		p.mu.Unlock()
		return nil
	}
	if !p.lastTry.IsZero() && p.now().Sub(p.lastTry) < discoverRetry {
		err := p.lastErr
		p.mu.Unlock()
		return err
	}
	p.lastTry = p.now()
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, discoverTimeout)
	defer cancel()
	op, err := oidc.NewProvider(ctx, p.issuer)

	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.lastErr = err
		log.Warn("identity: provider discovery failed; sign-in with it is unavailable until it answers",
			"idp", p.id, "issuer", p.issuer, "err", err)
		return err
	}
	p.op = op
	p.conf.Endpoint = op.Endpoint()
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.conf.ClientID, Now: p.now})
	p.lastErr = nil
	log.Info("identity: provider discovered", "idp", p.id, "issuer", p.issuer)
	return nil
}

// use returns the provider's OAuth2 config, verifier and discovery, trying
// discovery once more if needed; an unreachable provider is an Unavailable
// error the sign-in page can show.
func (p *provider) use(ctx context.Context, log *slog.Logger) (*oauth2.Config, *oidc.IDTokenVerifier, *oidc.Provider, error) {
	if !p.ready() {
		if err := p.discover(ctx, log); err != nil {
			return nil, nil, nil, apperr.Wrap(apperr.Unavailable, err,
				"Sign-in with %s is unavailable right now: Portier cannot reach it. Try again in a few minutes or choose another way to sign in.", p.name)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conf, p.verifier, p.op, nil
}

// Providers lists the configured identity providers, in config order.
func (s *Service) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(s.providers))
	for _, p := range s.providers {
		out = append(out, ProviderInfo{ID: p.id, Name: p.name})
	}
	return out
}

// HasProvider reports whether id names a configured identity provider.
func (s *Service) HasProvider(id string) bool {
	_, ok := s.byID[id]
	return ok
}

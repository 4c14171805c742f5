// Package identity is who a person is to Portier: sign-in with OpenID Connect
// providers (authorization code flow with PKCE, state and nonce; the account
// is found by the provider's issuer and subject, linked on first sign-in or
// explicitly by the user, never by e-mail alone) or a local account
// (argon2id password, rate-limited), WebAuthn security keys and
// passkeys (second factor, passwordless sign-in, step-up, device-bound BYOD
// credentials), server-side sessions with idle and absolute lifetimes, the
// hand-off of a signed-in session to a route host, and the background
// refresh that ends a session when its identity provider says the user is
// gone.
//
// The package has no HTTP framework in it: the console's handlers decode a
// request, call a Service method and render what it returns. Errors meant
// for the browser are *apperr.Error values whose message is safe to show;
// every other cause goes only to the log.
package identity

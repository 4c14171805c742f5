package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// The help desk's reset of a person's security keys (docs/roles.md, "When
// someone loses their security key"): after verifying who the person is,
// the help desk removes their security keys and passkeys, ends their
// sessions and gives them a one-time re-registration link. Until they use
// it, they can register no new key: a password alone no longer restores a
// key on that account.

// KeyResetPath is the console page a re-registration link opens.
const KeyResetPath = "/reset_keys"

// KeyResetTTL is how long a re-registration link works.
const KeyResetTTL = 24 * time.Hour

// keyResetVerifications are how the help desk may have verified the
// person, the values of the reset's verification field.
var keyResetVerifications = []string{"in_person", "video_call", "callback_known_number", "manager_confirmed"}

// maxKeyResetNote bounds the reset's free-text note.
const maxKeyResetNote = 500

// keyResetRequest is the body of POST /api/v1/users/:id/security_keys/reset.
type keyResetRequest struct {
	Verification string `json:"verification"`
	Note         string `json:"note"`
}

// keyResetResult is what a reset did, and the link to give the person
// (shown once).
type keyResetResult struct {
	KeysRemoved        int       `json:"keys_removed"`
	DevicePasskeysKept int       `json:"device_passkeys_kept"`
	SessionsEnded      int       `json:"sessions_ended"`
	URL                string    `json:"url"`
	ExpiresAt          time.Time `json:"expires_at"`
}

// resetKeysAPI is POST /api/v1/users/:id/security_keys/reset.
func (c *Console) resetKeysAPI(g *gin.Context) {
	var req keyResetRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	res, err := c.resetKeys(g, g.Param("id"), req)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusOK, res)
}

// mayResetKeys is the rank rule of a key reset, stricter than mayActOn
// for the help desk: an owner resets anyone's keys, an admin anyone's but
// an owner's, the help desk only an auditor's or an employee's (never
// another console operator's).
func mayResetKeys(caller, target string) bool {
	if roleRank(caller) >= roleRank(RoleAdmin) {
		return roleRank(target) <= roleRank(caller)
	}
	return roleRank(target) < roleRank(caller)
}

// strongestRole is the most powerful role an account holds anywhere: its
// local role or a role its identity-provider groups gave one of its
// sessions.
func (c *Console) strongestRole(u *store.User) string {
	role := u.Role
	for _, s := range c.opts.Store.SessionsOf(u.ID) {
		if r := heldRole(u, s); roleRank(r) > roleRank(role) {
			role = r
		}
	}
	return role
}

// checkKeyReset validates a reset request (without the user): the
// verification is one of keyResetVerifications and the note says what was
// checked.
func checkKeyReset(req keyResetRequest) error {
	if !slices.Contains(keyResetVerifications, req.Verification) {
		return apperr.Field("verification", "verification must say how you verified the person: %s", strings.Join(keyResetVerifications, ", "))
	}
	note := strings.TrimSpace(req.Note)
	if note == "" || len(note) > maxKeyResetNote {
		return apperr.Field("note", "note must say what you checked, in 1 to %d characters", maxKeyResetNote)
	}
	return nil
}

// resetKeys removes a person's security keys and passkeys (purpose "mfa";
// the device-bound passkeys of their registered personal devices stay),
// ends all their sessions and issues a one-time re-registration link valid
// KeyResetTTL, replacing any earlier one, in one audited write. It is the
// one code path of the API and the person page.
func (c *Console) resetKeys(g *gin.Context, userID string, req keyResetRequest) (*keyResetResult, error) {
	if err := checkKeyReset(req); err != nil {
		return nil, err
	}
	u, ok := c.opts.Store.User(userID)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no user %q", userID)
	}
	caller := who(g)
	if caller.User != nil && caller.User.ID == u.ID || caller.Token != nil && caller.Token.OwnerID == u.ID {
		return nil, apperr.New(apperr.Forbidden, "you may not reset your own security keys: ask another administrator")
	}
	if target := c.strongestRole(u); !mayResetKeys(caller.Role, target) {
		return nil, apperr.New(apperr.Forbidden, "your role (%s) may not reset the security keys of an account with the role %s", caller.Role, target)
	}
	if u.Disabled {
		return nil, apperr.New(apperr.Conflict, "this account is disabled: enable it first")
	}
	res := &keyResetResult{}
	var ops []store.Op
	for _, cr := range c.opts.Store.CredentialsOf(u.ID) {
		if cr.Purpose == identity.PurposeMFA {
			ops = append(ops, store.Delete(store.KindCredential, cr.ID))
			res.KeysRemoved++
		} else {
			res.DevicePasskeysKept++
		}
	}
	end := identity.EndUserOps(c.opts.Store, u.ID)
	res.SessionsEnded = len(end)
	ops = append(ops, end...)
	if old, ok := c.opts.Store.Invite(u.KeyReset); ok {
		ops = append(ops, store.Delete(store.KindInvite, old.ID))
	}
	now := c.now()
	secret := NewSecret()
	link := &store.Invite{ID: identity.HashSecret(secret), Email: u.Email, Purpose: store.InviteKeyReset, UserID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(KeyResetTTL), CreatedBy: caller.Actor}
	cp := *u
	cp.KeyReset = link.ID
	res.URL = c.opts.ExternalURL + KeyResetPath + "?" + url.Values{"token": {secret}}.Encode()
	res.ExpiresAt = link.ExpiresAt
	ops = append(ops, store.Create(link), store.Update(&cp), c.audit(g, "user.security_keys_reset", u.ID, map[string]string{
		"email": u.Email, "verification": req.Verification, "note": strings.TrimSpace(req.Note),
		"keys_removed": fmt.Sprint(res.KeysRemoved), "device_passkeys_kept": fmt.Sprint(res.DevicePasskeysKept),
		"sessions_ended": fmt.Sprint(res.SessionsEnded), "link": link.ID, "expires_at": link.ExpiresAt.Format(time.RFC3339)}))
	if err := c.opts.Store.Write(g.Request.Context(), ops...); err != nil {
		return nil, err
	}
	return res, nil
}

// openKeyReset finds the usable re-registration link of a secret and its
// account, or says why it is not usable. A later reset replaces the link.
func (c *Console) openKeyReset(secret string) (*store.Invite, *store.User, error) {
	inv, ok := c.opts.Store.Invite(identity.HashSecret(secret))
	invalid := apperr.New(apperr.NotFound, "This link to register a new security key is not valid. Ask your help desk for a new one.")
	if secret == "" || !ok || inv.Purpose != store.InviteKeyReset {
		return nil, nil, invalid
	}
	u, ok := c.opts.Store.User(inv.UserID)
	switch {
	case c.opts.Store.Claimed(inviteClaim(inv.ID)):
		return nil, nil, apperr.New(apperr.Conflict, "This link was already used. Sign in with your new security key, or ask your help desk for a new link.")
	case !c.now().Before(inv.ExpiresAt):
		return nil, nil, apperr.New(apperr.NotFound, "This link has expired. Ask your help desk for a new one.")
	case !ok || u.KeyReset != inv.ID || u.Disabled:
		return nil, nil, invalid
	}
	return inv, u, nil
}

// keyResetPage is where a re-registration link lands (GET, like an
// invitation link: its secret is the capability, single-use and bound to
// one account). Signed out, the person signs in first (password or
// identity provider: their keys are gone) and comes back; signed in as
// that account, the link is used up and the browser goes on to register a
// new key and confirm with it.
func (c *Console) keyResetPage(g *gin.Context) {
	secret := g.Query("token")
	inv, u, err := c.openKeyReset(secret)
	if err != nil {
		c.renderError(g, "title.key_reset", err)
		return
	}
	g.Header("Cache-Control", "no-store")
	sess, _, ok := c.session(g)
	if !ok {
		self := KeyResetPath + "?" + url.Values{"token": {secret}}.Encode()
		g.Redirect(http.StatusFound, "/auth/sign_in?"+url.Values{"rd": {self}}.Encode())
		return
	}
	if sess.UserID != u.ID || !mailaddr.EqualFold(sess.Email, inv.Email) {
		c.renderError(g, "title.key_reset", apperr.New(apperr.Forbidden,
			"This link is for %s, and you are signed in as %s. Sign out, then open the link again.", inv.Email, sess.Email))
		return
	}
	now := c.now()
	used, cp := *inv, *u
	used.UsedAt, cp.KeyReset = now, ""
	ev := store.NewAuditEvent(now, "user:"+u.Email, "user.key_reset_link_used", u.ID)
	ev.RemoteIP = g.ClientIP()
	ev.Detail = map[string]string{"email": u.Email, "link": inv.ID, "issued_by": inv.CreatedBy}
	err = c.opts.Store.Write(g.Request.Context(), store.Create(&store.Claim{ID: inviteClaim(inv.ID), At: now, By: u.Email}),
		store.Update(&used), store.Update(&cp), store.Put(ev))
	if err != nil {
		c.renderError(g, "title.key_reset", apperr.Wrap(apperr.Conflict, err, "This link could not be used. Ask your help desk for a new one."))
		return
	}
	g.Redirect(http.StatusFound, "/auth/step_up?"+url.Values{"rd": {"/"}}.Encode())
}

// keyResetPending refuses registering a security key while the account's
// keys were reset and the re-registration link is unused.
func (c *Console) keyResetPending(userID string) error {
	if u, ok := c.opts.Store.User(userID); ok && u.KeyReset != "" {
		return apperr.New(apperr.Forbidden, "Your security keys were reset by your help desk: open the link they gave you to register a new key.")
	}
	return nil
}

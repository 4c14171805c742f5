package console

import (
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Invitation lifetimes: without a ttl an invitation link is valid
// DefaultInviteTTL; no ttl may exceed MaxInviteTTL.
const (
	DefaultInviteTTL = 7 * 24 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
)

// InvitePath is the console page an invitation link opens.
const InvitePath = "/invite"

// invitationView is an invitation as the API shows it: never its secret.
// Its id is the SHA-256 of the secret (store.Invite.ID).
type invitationView struct {
	ID         string     `json:"id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	State      string     `json:"state"` // pending, accepted or expired
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
}

func (c *Console) viewInvitation(inv *store.Invite) invitationView {
	v := invitationView{ID: inv.ID, Email: inv.Email, Role: inv.Role, State: "pending", CreatedBy: inv.CreatedBy,
		CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt}
	switch {
	case !inv.UsedAt.IsZero() || c.opts.Store.Claimed(inviteClaim(inv.ID)):
		v.State = "accepted"
		if !inv.UsedAt.IsZero() {
			at := inv.UsedAt
			v.AcceptedAt = &at
		}
	case !c.now().Before(inv.ExpiresAt):
		v.State = "expired"
	}
	return v
}

// inviteClaim names the Claim that makes an invitation (or the set-up
// link) single-use.
func inviteClaim(id string) string { return "invite/" + id }

type createInvitationRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
	TTL   string `json:"ttl"`
}

// createInvitation invites a person to a console role: a single-use link
// that expires. The caller may not invite to a role above its own.
func (c *Console) createInvitation(g *gin.Context) {
	var req createInvitationRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	email, err := mailaddr.Normalize(req.Email)
	if err != nil {
		c.fail(g, apperr.Field("email", "email must be a plain ASCII address with one @"))
		return
	}
	if !ValidRole(req.Role) {
		c.fail(g, apperr.Field("role", "role must be owner, admin, security, helpdesk or auditor"))
		return
	}
	if caller := who(g).Role; !mayActOn(caller, req.Role) {
		c.fail(g, forbiddenField("role", "your role (%s) may not invite to the more powerful role %s", caller, req.Role))
		return
	}
	ttl := DefaultInviteTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > MaxInviteTTL {
			c.fail(g, apperr.Field("ttl", "ttl must be a positive duration of at most %s, such as 72h", MaxInviteTTL))
			return
		}
		ttl = d
	}
	now := c.now()
	secret := NewSecret()
	inv := &store.Invite{ID: identity.HashSecret(secret), Email: email, Role: req.Role, CreatedAt: now,
		ExpiresAt: now.Add(ttl), CreatedBy: who(g).Actor}
	err = c.opts.Store.Write(g.Request.Context(), store.Create(inv),
		c.audit(g, "invitation.created", inv.ID, map[string]string{"email": email, "role": inv.Role, "expires_at": inv.ExpiresAt.Format(time.RFC3339)}))
	if err != nil {
		c.fail(g, err)
		return
	}
	link := c.opts.ExternalURL + InvitePath + "?" + url.Values{"token": {secret}}.Encode()
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, gin.H{"invitation": c.viewInvitation(inv), "url": link})
}

// listInvitations lists invitations, newest first. The first-run set-up
// link (an invite without an email) is not an invitation and is not shown.
func (c *Console) listInvitations(g *gin.Context) {
	out := []invitationView{}
	for _, inv := range c.opts.Store.Invites() {
		if inv.Email != "" {
			out = append(out, c.viewInvitation(inv))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	g.JSON(http.StatusOK, gin.H{"invitations": out})
}

func (c *Console) invitationOr404(g *gin.Context) (*store.Invite, bool) {
	inv, ok := c.opts.Store.Invite(g.Param("id"))
	if !ok || inv.Email == "" {
		c.fail(g, apperr.New(apperr.NotFound, "no invitation %q", g.Param("id")))
		return nil, false
	}
	return inv, true
}

func (c *Console) getInvitation(g *gin.Context) {
	if inv, ok := c.invitationOr404(g); ok {
		g.JSON(http.StatusOK, gin.H{"invitation": c.viewInvitation(inv)})
	}
}

// deleteInvitation withdraws an invitation: its link stops working. An
// accepted invitation's role stays (change it with the role endpoint).
func (c *Console) deleteInvitation(g *gin.Context) {
	inv, ok := c.invitationOr404(g)
	if !ok {
		return
	}
	if caller := who(g).Role; !mayActOn(caller, inv.Role) {
		c.fail(g, apperr.New(apperr.Forbidden, "your role (%s) may not withdraw an invitation to the more powerful role %s", caller, inv.Role))
		return
	}
	err := c.opts.Store.Write(g.Request.Context(), store.Delete(store.KindInvite, inv.ID),
		c.audit(g, "invitation.deleted", inv.ID, map[string]string{"email": inv.Email, "role": inv.Role}))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

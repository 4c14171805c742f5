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

// createInvitation is POST /api/v1/invitations: invite for the API.
func (c *Console) createInvitation(g *gin.Context) {
	var req createInvitationRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	inv, link, err := c.invite(g, req)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, gin.H{"invitation": c.viewInvitation(inv), "url": link})
}

// invite invites a person to a console role: a single-use link that
// expires, returned with the invitation (the link is shown once). The
// caller may not invite to a role above its own. It is the one code path
// of the API and the people page.
func (c *Console) invite(g *gin.Context, req createInvitationRequest) (*store.Invite, string, error) {
	email, err := mailaddr.Normalize(req.Email)
	if err != nil {
		return nil, "", apperr.Field("email", "email must be a plain ASCII address with one @")
	}
	if !ValidRole(req.Role) {
		return nil, "", apperr.Field("role", "role must be owner, admin, security, helpdesk or auditor")
	}
	if caller := who(g).Role; !mayActOn(caller, req.Role) {
		return nil, "", forbiddenField("role", "your role (%s) may not invite to the more powerful role %s", caller, req.Role)
	}
	ttl := DefaultInviteTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 || d > MaxInviteTTL {
			return nil, "", apperr.Field("ttl", "ttl must be a positive duration of at most %s, such as 72h", MaxInviteTTL)
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
		return nil, "", err
	}
	return inv, c.opts.ExternalURL + InvitePath + "?" + url.Values{"token": {secret}}.Encode(), nil
}

// listInvitations lists invitations, newest first. The first-run set-up
// link (an invite without an email) is not an invitation and is not shown.
func (c *Console) listInvitations(g *gin.Context) {
	out := []invitationView{}
	for _, inv := range c.opts.Store.Invites() {
		if inv.Email != "" && inv.Purpose == "" {
			out = append(out, c.viewInvitation(inv))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	g.JSON(http.StatusOK, gin.H{"invitations": out})
}

func (c *Console) invitationOr404(g *gin.Context) (*store.Invite, bool) {
	inv, ok := c.opts.Store.Invite(g.Param("id"))
	if !ok || inv.Email == "" || inv.Purpose != "" {
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

// deleteInvitation is DELETE /api/v1/invitations/:id: withdrawInvite for
// the API.
func (c *Console) deleteInvitation(g *gin.Context) {
	inv, ok := c.invitationOr404(g)
	if !ok {
		return
	}
	if err := c.withdrawInvite(g, inv); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

// withdrawInvite withdraws an invitation: its link stops working. An
// accepted invitation's role stays (change it with the role endpoint). The
// caller may not withdraw an invitation to a role above its own.
func (c *Console) withdrawInvite(g *gin.Context, inv *store.Invite) error {
	if caller := who(g).Role; !mayActOn(caller, inv.Role) {
		return apperr.New(apperr.Forbidden, "your role (%s) may not withdraw an invitation to the more powerful role %s", caller, inv.Role)
	}
	return c.opts.Store.Write(g.Request.Context(), store.Delete(store.KindInvite, inv.ID),
		c.audit(g, "invitation.deleted", inv.ID, map[string]string{"email": inv.Email, "role": inv.Role}))
}

package console

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// userView is a user as the API shows it: never the password hash.
type userView struct {
	ID            string     `json:"id"`
	Email         string     `json:"email"`
	Name          string     `json:"name,omitempty"`
	Role          string     `json:"role,omitempty"`
	Groups        []string   `json:"groups"`
	Disabled      bool       `json:"disabled"`
	LocalPassword bool       `json:"local_password"`
	CreatedAt     time.Time  `json:"created_at"`
	Sessions      int        `json:"sessions"`            // live console and route sessions
	LastSeen      *time.Time `json:"last_seen,omitempty"` // latest activity of any session
}

// sessionView is a session as the API shows it: its id is the SHA-256 of
// the cookie, never the cookie; no refresh token.
type sessionView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"` // console or route
	Host      string     `json:"host,omitempty"`
	ParentID  string     `json:"parent_id,omitempty"`
	IdP       string     `json:"idp"`
	DeviceID  string     `json:"device_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	LastSeen  time.Time  `json:"last_seen"`
	ExpiresAt time.Time  `json:"expires_at"`
	MFAAt     *time.Time `json:"mfa_at,omitempty"`
	Live      bool       `json:"live"` // within its idle and absolute lifetimes
}

func (c *Console) viewUser(u *store.User, now time.Time) userView {
	v := userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Groups: u.Groups, Disabled: u.Disabled,
		LocalPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	for _, s := range c.opts.Store.SessionsOf(u.ID) {
		if !identity.Fresh(s, now) {
			continue
		}
		v.Sessions++
		if v.LastSeen == nil || s.LastSeen.After(*v.LastSeen) {
			seen := s.LastSeen
			v.LastSeen = &seen
		}
	}
	return v
}

func viewSession(s *store.Session, now time.Time) sessionView {
	v := sessionView{ID: s.ID, Kind: "console", Host: s.Host, ParentID: s.ParentID, IdP: s.IdP, DeviceID: s.DeviceID,
		CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt, Live: identity.Fresh(s, now)}
	if s.ParentID != "" {
		v.Kind = "route"
	}
	if !s.MFAAt.IsZero() {
		mfa := s.MFAAt
		v.MFAAt = &mfa
	}
	return v
}

// listUsers lists users by email; ?email= narrows it to one address,
// compared by the mailaddr rule (ASCII case ignored, no Unicode folding).
func (c *Console) listUsers(g *gin.Context) {
	now := c.now()
	out := []userView{}
	email := strings.TrimSpace(g.Query("email"))
	if email != "" {
		n, err := mailaddr.Normalize(email)
		if err != nil {
			g.JSON(http.StatusOK, gin.H{"users": out})
			return
		}
		email = n
	}
	for _, u := range c.opts.Store.Users() {
		if email == "" || mailaddr.EqualFold(u.Email, email) {
			out = append(out, c.viewUser(u, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	g.JSON(http.StatusOK, gin.H{"users": out})
}

func (c *Console) userOr404(g *gin.Context) (*store.User, bool) {
	u, ok := c.opts.Store.User(g.Param("id"))
	if !ok {
		c.fail(g, apperr.New(apperr.NotFound, "no user %q", g.Param("id")))
	}
	return u, ok
}

// getUser shows a user and every session they hold, newest first.
func (c *Console) getUser(g *gin.Context) {
	u, ok := c.userOr404(g)
	if !ok {
		return
	}
	now := c.now()
	sessions := c.opts.Store.SessionsOf(u.ID)
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].CreatedAt.After(sessions[j].CreatedAt) })
	views := make([]sessionView, 0, len(sessions))
	for _, s := range sessions {
		views = append(views, viewSession(s, now))
	}
	links := []linkView{}
	for _, l := range c.opts.Store.LinksOf(u.ID) {
		links = append(links, linkView{Provider: l.Provider, Issuer: l.Issuer, Subject: l.Subject, Email: l.Email,
			Method: l.Method, CreatedAt: l.CreatedAt})
	}
	sort.Slice(links, func(i, j int) bool { return links[i].CreatedAt.Before(links[j].CreatedAt) })
	g.JSON(http.StatusOK, gin.H{"user": c.viewUser(u, now), "sessions": views, "links": links})
}

// linkView is an identity-provider account linked to a user: the
// provider's issuer and subject reach this user at sign-in.
type linkView struct {
	Provider  string    `json:"provider"`
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	Email     string    `json:"email,omitempty"`
	Method    string    `json:"method"` // created, email or explicit
	CreatedAt time.Time `json:"created_at"`
}

// signOutUser is POST /api/v1/users/:id/sign_out: signOutEverywhere for
// the API.
func (c *Console) signOutUser(g *gin.Context) {
	ended, err := c.signOutEverywhere(g, g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"ended": ended})
}

// signOutEverywhere ends every session of a user, everywhere, at once: the
// proxy refuses their next request and closes their open streams. It
// returns how many sessions ended.
func (c *Console) signOutEverywhere(g *gin.Context, userID string) (int, error) {
	u, ok := c.opts.Store.User(userID)
	if !ok {
		return 0, apperr.New(apperr.NotFound, "no user %q", userID)
	}
	if err := c.rankCheck(g, u.ID, "sign out"); err != nil {
		return 0, err
	}
	ops := identity.EndUserOps(c.opts.Store, u.ID)
	ended := len(ops)
	ops = append(ops, c.audit(g, "session.ended", u.ID, map[string]string{
		"email": u.Email, "scope": "all sessions of the user", "sessions": fmt.Sprint(ended)}))
	return ended, c.opts.Store.Write(g.Request.Context(), ops...)
}

// endSession ends one session: a console session with its route sessions,
// or one route session.
func (c *Console) endSession(g *gin.Context) {
	id := g.Param("id")
	s, ok := c.opts.Store.Session(id)
	if !ok {
		c.fail(g, apperr.New(apperr.NotFound, "no session %q (it may have ended already)", id))
		return
	}
	if !c.actOn(g, s.UserID, "end a session of") {
		return
	}
	ops := identity.EndSessionOps(c.opts.Store, id)
	ops = append(ops, c.audit(g, "session.ended", s.UserID, map[string]string{
		"email": s.Email, "scope": "one session", "session": id, "host": s.Host}))
	if err := c.opts.Store.Write(g.Request.Context(), ops...); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusNoContent)
}

type disableRequest struct {
	Reason string `json:"reason"`
}

// disableUser stops a user from signing in and ends all their sessions in
// the same write; enableUser lets them sign in again.
func (c *Console) disableUser(g *gin.Context) { c.setDisabled(g, true) }
func (c *Console) enableUser(g *gin.Context)  { c.setDisabled(g, false) }

func (c *Console) setDisabled(g *gin.Context, disabled bool) {
	var req disableRequest
	if g.Request.ContentLength != 0 {
		if err := decode(g, &req); err != nil {
			c.fail(g, err)
			return
		}
	}
	u, err := c.setUserDisabled(g, g.Param("id"), disabled, req.Reason)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"user": c.viewUser(u, c.now())})
}

// setUserDisabled disables (ending all their sessions in the same write)
// or enables a user, with an optional reason: the one code path of the API
// and the person page. The last owner cannot be disabled.
func (c *Console) setUserDisabled(g *gin.Context, userID string, disabled bool, reason string) (*store.User, error) {
	if len(reason) > 500 {
		return nil, apperr.Field("reason", "reason is at most 500 characters")
	}
	what := "enable"
	if disabled {
		what = "disable"
	}
	u, ok := c.opts.Store.User(userID)
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no user %q", userID)
	}
	if err := c.rankCheck(g, u.ID, what); err != nil {
		return nil, err
	}
	if disabled && u.Role == RoleOwner && !u.Disabled && !c.ownerRemains("", u.ID) {
		return nil, apperr.New(apperr.Conflict, "this is the last owner account and no owner API token exists: make another owner first")
	}
	cp := *u
	cp.Disabled = disabled
	action, detail := "user.enabled", map[string]string{"email": u.Email}
	if reason != "" {
		detail["reason"] = reason
	}
	// Update, not Put: a user deleted meanwhile must not come back.
	ops := []store.Op{store.Update(&cp)}
	if disabled {
		action = "user.disabled"
		end := identity.EndUserOps(c.opts.Store, u.ID)
		detail["sessions_ended"] = fmt.Sprint(len(end))
		ops = append(ops, end...)
	}
	ops = append(ops, c.audit(g, action, u.ID, detail))
	if err := c.opts.Store.Write(g.Request.Context(), ops...); err != nil {
		return nil, err
	}
	return &cp, nil
}

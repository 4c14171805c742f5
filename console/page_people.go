package console

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

// peoplePageSize is how many people the people page shows at once.
const peoplePageSize = 50

// Where a person's role comes from, as the people pages show it.
const (
	roleSourceLocal = "local" // given in Portier (invitation, role change)
	roleSourceIdP   = "idp"   // mapped from identity-provider groups
)

// personRow is one person of the people page.
type personRow struct {
	ID, Email, Name string
	Role            string // the most powerful role held ("" = employee)
	RoleSource      string // roleSourceLocal, roleSourceIdP or ""
	Keys            int    // security keys and passkeys
	LastSignIn      time.Time
	Disabled        bool
}

// peopleView is the people page: the search, one page of people, the
// invitations, and the invitation form for roles that may invite.
type peopleView struct {
	Query       string
	People      []personRow
	Next        string
	Invitations []invitationView
	// CanInvite shows the invitation form with the roles the viewer may
	// give (InviteRoles) and the withdraw buttons.
	CanInvite   bool
	InviteRoles []string
	// NewLink is the invitation link just made (shown once), for NewEmail.
	NewLink, NewEmail string
	Form              createInvitationRequest
	// StepUp is where to confirm with a security key when the last check
	// is too old to invite.
	StepUp string
}

// describePerson is a person as the people pages list them.
func (c *Console) describePerson(u *store.User) personRow {
	r := personRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled,
		Keys: len(c.mfaKeys(u.ID))}
	if u.Role != "" {
		r.RoleSource = roleSourceLocal
	}
	for _, s := range c.opts.Store.SessionsOf(u.ID) {
		if s.ParentID == "" && s.CreatedAt.After(r.LastSignIn) {
			r.LastSignIn = s.CreatedAt
		}
	}
	if held := c.strongestRole(u); roleRank(held) > roleRank(u.Role) {
		r.Role, r.RoleSource = held, roleSourceIdP
	}
	return r
}

// mfaKeys are a person's security keys and passkeys (not the device-bound
// passkeys of their personal devices), oldest first.
func (c *Console) mfaKeys(userID string) []*store.Credential {
	var out []*store.Credential
	for _, cr := range c.opts.Store.CredentialsOf(userID) {
		if cr.Purpose == identity.PurposeMFA {
			out = append(out, cr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// peoplePage is GET /people: everyone with an account, by e-mail, with a
// search (?q=, a substring of the e-mail or name, case ignored) and a
// cursor (?cursor=, the last e-mail of the previous page).
func (c *Console) peoplePage(g *gin.Context) {
	c.renderPeople(g, http.StatusOK, &peopleView{}, "")
}

// renderPeople completes v with the listing and the viewer's rights and
// renders the people page with errMsg above it.
func (c *Console) renderPeople(g *gin.Context, status int, v *peopleView, errMsg string) {
	v.Query = strings.TrimSpace(g.Query("q"))
	cursor := g.Query("cursor")
	q := strings.ToLower(v.Query)
	users := c.opts.Store.Users()
	sort.Slice(users, func(i, j int) bool { return users[i].Email < users[j].Email })
	for _, u := range users {
		if cursor != "" && u.Email <= cursor ||
			q != "" && !strings.Contains(strings.ToLower(u.Email), q) && !strings.Contains(strings.ToLower(u.Name), q) {
			continue
		}
		if len(v.People) == peoplePageSize {
			next := url.Values{"cursor": {v.People[len(v.People)-1].Email}}
			if v.Query != "" {
				next.Set("q", v.Query)
			}
			v.Next = "/people?" + next.Encode()
			break
		}
		v.People = append(v.People, c.describePerson(u))
	}
	role := who(g).Role
	v.CanInvite = perms[role][PermRolesWrite]
	for _, r := range []string{RoleOwner, RoleAdmin, RoleSecurity, RoleHelpdesk, RoleAuditor} {
		if mayActOn(role, r) {
			v.InviteRoles = append(v.InviteRoles, r)
		}
	}
	for _, inv := range c.opts.Store.Invites() {
		if inv.Email != "" && inv.Purpose == "" {
			v.Invitations = append(v.Invitations, c.viewInvitation(inv))
		}
	}
	sort.Slice(v.Invitations, func(i, j int) bool { return v.Invitations[i].CreatedAt.After(v.Invitations[j].CreatedAt) })
	g.Header("Cache-Control", "no-store")
	c.render(g, status, "people", &ui.Page{TitleKey: "title.people", Error: errMsg, Script: v.NewLink != "", Data: v})
}

// personView is a person's page: who they are, their sessions, keys and
// devices, and the actions the viewer may take on them.
type personView struct {
	Person   personRow
	Sessions []sessionView
	Keys     []*store.Credential
	// DevicePasskeys counts the device-bound passkeys of personal devices
	// (kept by a key reset).
	DevicePasskeys int
	Devices        []deviceSummary
	DevicesLink    string // the inventory filtered to this person ("" without it)
	// What the viewer may do here.
	CanRole, CanSignOut, CanDisable, CanResetKeys bool
	RoleOptions                                   []string
	Verifications                                 []string
	// ResetLink is the re-registration link of a reset just made (shown
	// once), valid until ResetUntil; Notice says what an action did.
	ResetLink  string
	ResetUntil time.Time
	Notice     string
	// StepUp is where to confirm with a security key when the last check
	// is too old for the action.
	StepUp string
}

// personPage is GET /people/:id.
func (c *Console) personPage(g *gin.Context) {
	v := &personView{}
	switch g.Query("done") {
	case "role", "sign_out", "disable", "enable":
		v.Notice = c.t(g, "people.done_"+g.Query("done"))
	}
	c.renderPerson(g, http.StatusOK, v, "")
}

// renderPerson completes v with the person of :id and the viewer's rights
// and renders the person page with errMsg above it.
func (c *Console) renderPerson(g *gin.Context, status int, v *personView, errMsg string) {
	u, ok := c.opts.Store.User(g.Param("id"))
	if !ok {
		c.failPage(g, apperr.New(apperr.NotFound, "There is no person %q.", g.Param("id")))
		return
	}
	now := c.now()
	v.Person = c.describePerson(u)
	sessions := c.opts.Store.SessionsOf(u.ID)
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].CreatedAt.After(sessions[j].CreatedAt) })
	for _, s := range sessions {
		v.Sessions = append(v.Sessions, viewSession(s, now))
	}
	v.Keys = c.mfaKeys(u.ID)
	v.DevicePasskeys = len(c.opts.Store.CredentialsOf(u.ID)) - len(v.Keys)
	if c.opts.Enrollment != nil {
		for _, d := range c.opts.Store.DevicesOwnedBy(u.Email) {
			v.Devices = append(v.Devices, summarize(d))
		}
		v.DevicesLink = "/devices?" + url.Values{"owner": {u.Email}}.Encode()
	}
	caller := who(g)
	p, rank := perms[caller.Role], mayActOn(caller.Role, u.Role)
	v.CanRole = p[PermRolesWrite] && rank
	v.CanSignOut = p[PermSessionsEnd] && rank
	v.CanDisable = p[PermUsersWrite] && rank
	v.CanResetKeys = p[PermKeysReset] && mayResetKeys(caller.Role, c.strongestRole(u)) && (caller.User == nil || caller.User.ID != u.ID)
	v.RoleOptions = []string{""}
	for _, r := range []string{RoleOwner, RoleAdmin, RoleSecurity, RoleHelpdesk, RoleAuditor} {
		if mayActOn(caller.Role, r) {
			v.RoleOptions = append(v.RoleOptions, r)
		}
	}
	v.Verifications = keyResetVerifications
	g.Header("Cache-Control", "no-store")
	c.render(g, status, "person", &ui.Page{TitleKey: "title.person", Error: errMsg, Script: v.ResetLink != "", Data: v})
}

// devicesQuery is the inventory search that finds one device.
func devicesQuery(d deviceSummary) string {
	q := d.Serial
	if q == "" {
		q = d.ID
	}
	return "/devices?" + url.Values{"q": {q}}.Encode()
}

// Query links a device of the person page to the inventory.
func (personView) Query(d deviceSummary) string { return devicesQuery(d) }

// Since formats an optional time for the pages ("" when zero).
func (personView) Since(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

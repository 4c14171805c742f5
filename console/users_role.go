package console

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/store"
)

type roleRequest struct {
	// Role is the new local role; "" makes the person a plain employee.
	Role *string `json:"role"`
}

// setUserRole is POST /api/v1/users/:id/role: changeRole for the API.
func (c *Console) setUserRole(g *gin.Context) {
	var req roleRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	if req.Role == nil {
		c.fail(g, errRoleField())
		return
	}
	u, revoked, err := c.changeRole(g, g.Param("id"), *req.Role)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"user": c.viewUser(u, c.now()), "tokens_revoked": revoked})
}

func errRoleField() error {
	return apperr.Field("role", `role must be owner, admin, security, helpdesk, auditor or "" (employee)`)
}

// changeRole changes a person's local role: the one code path of the API
// and the person page. The caller may neither touch an account more
// powerful than itself nor grant a role above its own; the last owner
// cannot be demoted. The person's API tokens with a role above the new one
// are revoked in the same write, so a token never outranks its person. A
// role mapped from identity-provider groups is not changed here (it
// follows the groups at sign-in). It returns the changed user and how many
// tokens were revoked.
func (c *Console) changeRole(g *gin.Context, userID, role string) (*store.User, int, error) {
	if role != "" && !ValidRole(role) {
		return nil, 0, errRoleField()
	}
	u, ok := c.opts.Store.User(userID)
	if !ok {
		return nil, 0, apperr.New(apperr.NotFound, "no user %q", userID)
	}
	if err := c.rankCheck(g, u.ID, "change the role of"); err != nil {
		return nil, 0, err
	}
	if caller := who(g).Role; !mayActOn(caller, role) {
		return nil, 0, forbiddenField("role", "your role (%s) may not grant the more powerful role %s", caller, role)
	}
	if u.Role == RoleOwner && role != RoleOwner && !c.ownerRemains("", u.ID) {
		return nil, 0, apperr.New(apperr.Conflict, "this is the last owner: make another owner first")
	}
	cp := *u
	cp.Role = role
	ops := []store.Op{store.Update(&cp)} // Update: a user deleted meanwhile stays deleted
	revoked := 0
	for _, t := range c.opts.Store.Tokens() {
		if t.OwnerID == u.ID && roleRank(t.Role) > roleRank(role) {
			ops = append(ops, store.Delete(store.KindToken, t.ID))
			revoked++
		}
	}
	ops = append(ops, c.audit(g, "user.role_changed", u.ID, map[string]string{
		"email": u.Email, "from": u.Role, "to": role, "tokens_revoked": fmt.Sprint(revoked)}))
	if err := c.opts.Store.Write(g.Request.Context(), ops...); err != nil {
		return nil, 0, err
	}
	return &cp, revoked, nil
}

package console

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// versionView is one version of a rule, with its diff against the one
// before.
type versionView struct {
	Version   uint64     `json:"version"`
	Text      string     `json:"text,omitempty"`
	Deleted   bool       `json:"deleted,omitempty"`
	Diff      string     `json:"diff,omitempty"`
	Author    string     `json:"author"`
	Comment   string     `json:"comment,omitempty"`
	At        time.Time  `json:"at"`
	PromoteAt *time.Time `json:"promote_at,omitempty"`
	PromoteTo string     `json:"promote_to,omitempty"`
}

func viewVersion(v *store.RuleVersion) versionView {
	out := versionView{Version: v.Version, Text: v.Text, Deleted: v.Deleted, Diff: v.Diff, Author: v.Author, Comment: v.Comment, At: v.At, PromoteTo: v.PromoteTo}
	if !v.PromoteAt.IsZero() {
		out.PromoteAt = &v.PromoteAt
	}
	return out
}

// listRuleVersions answers a rule's history, newest first, from the
// durable store a page at a time.
func (c *Console) listRuleVersions(g *gin.Context) {
	limit, err := pageLimit(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	typ, id := ruleType(g), g.Param("id")
	vs, next, err := c.opts.Rules.Versions(g.Request.Context(), typ, id, g.Query("cursor"), limit)
	if err != nil {
		c.fail(g, err)
		return
	}
	if len(vs) == 0 && g.Query("cursor") == "" {
		c.fail(g, apperr.New(apperr.NotFound, "no %s %q", typ, id))
		return
	}
	out := make([]versionView, len(vs))
	for i, v := range vs {
		out[i] = viewVersion(v)
	}
	g.JSON(http.StatusOK, gin.H{"versions": out, "next_cursor": next})
}

type rollbackRequest struct {
	Version uint64 `json:"version"`
	Comment string `json:"comment"`
}

// rollbackRule makes a new version equal to an older one.
func (c *Console) rollbackRule(g *gin.Context) {
	match, err := ifMatch(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	var req rollbackRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	if req.Version == 0 {
		c.fail(g, apperr.Field("version", "version is required: the version to restore"))
		return
	}
	typ, id := ruleType(g), g.Param("id")
	r, err := c.opts.Rules.Rollback(g.Request.Context(), c.actor(g), rules.Change{Type: typ, ID: id, IfMatch: match, Comment: req.Comment}, req.Version)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("ETag", etag(r.Version))
	g.JSON(http.StatusOK, viewRule(r))
}

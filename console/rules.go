package console

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// ruleView is a route or policy as the API shows it. Text is the YAML of
// the one route or policy, as PUT takes it back.
type ruleView struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"`
	Version   uint64     `json:"version"`
	Text      string     `json:"text"`
	Mode      string     `json:"mode,omitempty"` // a (compliance) policy's draft, report-only or enforce
	Author    string     `json:"author"`
	Comment   string     `json:"comment,omitempty"`
	At        time.Time  `json:"at"`
	PromoteAt *time.Time `json:"promote_at,omitempty"`
	PromoteTo string     `json:"promote_to,omitempty"`
	// InForceVersion, for a report-only policy, is the enforced version
	// the route keeps applying while this one is observed.
	InForceVersion uint64 `json:"in_force_version,omitempty"`
}

func viewRule(r *store.Rule) ruleView {
	v := ruleView{ID: r.ID, Type: r.Type, Version: r.Version, Text: r.Text, Author: r.Author, Comment: r.Comment, At: r.At,
		PromoteTo: r.PromoteTo, InForceVersion: r.InForceVersion}
	if !r.PromoteAt.IsZero() {
		v.PromoteAt = &r.PromoteAt
	}
	if r.Type != store.RuleRoute {
		if d, err := rules.DocOf(r); err == nil && d != nil {
			v.Mode = d.Mode
		}
	}
	return v
}

// etag is a rule version as an ETag header value.
func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// ifMatch reads If-Match: a version as an ETag ("3", W/"3" or 3); nil when
// absent.
func ifMatch(g *gin.Context) (*uint64, error) {
	h := strings.TrimSpace(g.GetHeader("If-Match"))
	if h == "" {
		return nil, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	v, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return nil, apperr.Field("If-Match", "If-Match must be the ETag of the version you read, such as \"3\"")
	}
	return &v, nil
}

// ruleType is the rule type a handler serves, from the route group.
func ruleType(g *gin.Context) string {
	switch {
	case strings.HasPrefix(g.FullPath(), "/api/v1/routes"):
		return store.RuleRoute
	case strings.HasPrefix(g.FullPath(), "/api/v1/compliance"):
		return store.RuleCompliance
	}
	return store.RulePolicy
}

func (c *Console) actor(g *gin.Context) rules.Actor {
	return rules.Actor{Name: who(g).Actor, RemoteIP: g.ClientIP()}
}

// listRules answers the live routes, policies or compliance policies, by
// id, a page at a time.
func (c *Console) listRules(g *gin.Context) {
	typ := ruleType(g)
	all := c.opts.Store.RulesOf(typ)
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	limit, err := pageLimit(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	cursor := g.Query("cursor")
	out := []ruleView{}
	next := ""
	for _, r := range all {
		if r.Deleted || r.ID <= cursor {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		out = append(out, viewRule(r))
	}
	key := map[string]string{store.RuleRoute: "routes", store.RulePolicy: "policies", store.RuleCompliance: "compliance"}[typ]
	g.JSON(http.StatusOK, gin.H{key: out, "next_cursor": next})
}

// pageLimit reads ?limit= (default and most: 1000).
func pageLimit(g *gin.Context) (int, error) {
	s := g.Query("limit")
	if s == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, apperr.Field("limit", "limit must be a number from 1 to 1000")
	}
	return n, nil
}

func (c *Console) getRule(g *gin.Context) {
	typ := ruleType(g)
	r, ok := c.opts.Store.RuleOf(typ, g.Param("id"))
	if !ok || r.Deleted {
		c.fail(g, apperr.New(apperr.NotFound, "no %s %q", typ, g.Param("id")))
		return
	}
	g.Header("ETag", etag(r.Version))
	g.JSON(http.StatusOK, viewRule(r))
}

// putRule creates or replaces a route or policy. The body is the YAML (or
// JSON) of that one route or policy, with an optional comment.
func (c *Console) putRule(g *gin.Context) {
	match, err := ifMatch(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	body, err := readBody(g, MaxBodyBytes)
	if err != nil {
		c.fail(g, err)
		return
	}
	typ, id := ruleType(g), g.Param("id")
	_, existed := c.opts.Store.RuleOf(typ, id)
	r, err := c.opts.Rules.Put(g.Request.Context(), c.actor(g), rules.Change{Type: typ, ID: id, IfMatch: match, Body: body, File: "request body"})
	if err != nil {
		c.fail(g, err)
		return
	}
	status := http.StatusOK
	if !existed {
		status = http.StatusCreated
	}
	g.Header("ETag", etag(r.Version))
	g.JSON(status, viewRule(r))
}

func (c *Console) deleteRule(g *gin.Context) {
	match, err := ifMatch(g)
	if err != nil {
		c.fail(g, err)
		return
	}
	typ, id := ruleType(g), g.Param("id")
	r, err := c.opts.Rules.Delete(g.Request.Context(), c.actor(g), rules.Change{Type: typ, ID: id, IfMatch: match, Comment: g.Query("comment")})
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("ETag", etag(r.Version))
	g.Status(http.StatusNoContent)
}

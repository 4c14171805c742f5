package console

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/console/ui"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// newPolicyID is the address of the editor for a new policy
// (/rules/policies/new); the new policy's id is a form field.
const newPolicyID = "new"

// policyForm is the editor's form as loaded or as posted back.
type policyForm struct {
	ID      string
	Text    string
	Comment string
	Mode    string
	// Loaded is the version the form was loaded at: the save's If-Match
	// (0 for a new policy).
	Loaded uint64
}

// policyPageView is the policy page: the current version, its history and
// the editor, with what went wrong with the last save.
type policyPageView struct {
	New      bool
	Rule     *ruleView
	Versions []versionView
	CanWrite bool
	Form     policyForm
	Modes    []string
	// ErrLine and ErrMsg are a 422's line (0 when none) and message, shown
	// next to the textarea.
	ErrLine int
	ErrMsg  string
	// StepUp is where to confirm with a security key when the last check
	// is too old to save.
	StepUp string
}

// policyPage is GET /rules/policies/:id (and /rules/policies/new): the
// policy's YAML, its versions with their diffs, and the editor for roles
// that may change rules.
func (c *Console) policyPage(g *gin.Context) {
	if c.opts.Rules == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Routes and policies are not served on this server."))
		return
	}
	id := g.Param("id")
	if id == newPolicyID {
		c.renderPolicy(g, http.StatusOK, &policyPageView{New: true, Form: policyForm{Mode: rules.ModeDraft}}, "")
		return
	}
	r, ok := c.opts.Store.RuleOf(store.RulePolicy, id)
	if !ok || r.Deleted {
		c.failPage(g, apperr.New(apperr.NotFound, "There is no policy %q.", id))
		return
	}
	rv := viewRule(r)
	v := &policyPageView{Rule: &rv, Form: policyForm{ID: id, Text: r.Text, Mode: modeOrEnforce(rv.Mode), Loaded: r.Version}}
	c.renderPolicy(g, http.StatusOK, v, "")
}

// renderPolicy completes v with the history and the role's rights and
// renders the policy page.
func (c *Console) renderPolicy(g *gin.Context, status int, v *policyPageView, errMsg string) {
	pu, _ := c.pageUser(g)
	v.CanWrite = perms[pu.Role][PermRulesWrite]
	v.Modes = policyModes
	if !v.New {
		vs, _, err := c.opts.Rules.Versions(g.Request.Context(), store.RulePolicy, v.Form.ID, "", 50)
		if err != nil {
			c.failPage(g, err)
			return
		}
		for _, x := range vs {
			v.Versions = append(v.Versions, viewVersion(x))
		}
		if v.Rule == nil {
			if r, ok := c.opts.Store.RuleOf(store.RulePolicy, v.Form.ID); ok && !r.Deleted {
				rv := viewRule(r)
				v.Rule = &rv
			}
		}
	}
	title := "title.rules_policy"
	if v.New {
		title = "title.rules_policy_new"
	}
	c.render(g, status, "rules_policy", &ui.Page{TitleKey: title, Error: errMsg, Script: v.CanWrite, Data: v})
}

// savePolicyPage is POST /rules/policies/:id: the editor's Save. It calls
// the rules service as PUT /api/v1/policies/{id} does, with the version the
// form was loaded at as If-Match, so a form loaded before someone else's
// change is refused, never saved over it.
func (c *Console) savePolicyPage(g *gin.Context) {
	f := policyForm{ID: g.Param("id"), Text: g.PostForm("text"), Comment: g.PostForm("comment"), Mode: g.PostForm("mode")}
	v := &policyPageView{New: f.ID == newPolicyID}
	if v.New {
		f.ID = g.PostForm("id")
	}
	loaded, err := strconv.ParseUint(g.DefaultPostForm("loaded", "0"), 10, 64)
	if err != nil {
		c.failPage(g, apperr.Field("loaded", "loaded must be the version the form was loaded at"))
		return
	}
	f.Loaded = loaded
	v.Form = f
	if c.opts.Rules == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Routes and policies are not served on this server."))
		return
	}
	if f.ID == "" || f.ID == newPolicyID {
		c.renderPolicy(g, http.StatusUnprocessableEntity, v, c.t(g, "rules.id_required"))
		return
	}
	if !c.pageKeyFresh(g, v, "/rules/policies/"+f.ID) {
		return
	}
	body := f.Text
	if f.Mode != "" {
		if !slices.Contains(policyModes, f.Mode) {
			c.failPage(g, apperr.Field("mode", "mode must be draft, report-only or enforce"))
			return
		}
		body = withModeLine(body, f.Mode)
	}
	var match *uint64
	if !v.New {
		match = &f.Loaded
	}
	_, err = c.opts.Rules.Put(g.Request.Context(), c.actor(g), rules.Change{Type: store.RulePolicy, ID: f.ID, IfMatch: match,
		Body: []byte(body), Comment: f.Comment, File: "policy"})
	if err != nil {
		c.policySaveFailed(g, v, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/rules/policies/"+url.PathEscape(f.ID))
}

// rollbackPolicyPage is POST /rules/policies/:id/rollback: a Roll back
// button of the history, with the same checks as the Save.
func (c *Console) rollbackPolicyPage(g *gin.Context) {
	id := g.Param("id")
	version, err1 := strconv.ParseUint(g.PostForm("version"), 10, 64)
	loaded, err2 := strconv.ParseUint(g.PostForm("loaded"), 10, 64)
	if err1 != nil || err2 != nil || version == 0 {
		c.failPage(g, apperr.Field("version", "version and loaded must be version numbers"))
		return
	}
	if c.opts.Rules == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Routes and policies are not served on this server."))
		return
	}
	v := &policyPageView{Form: policyForm{ID: id, Loaded: loaded}}
	if r, ok := c.opts.Store.RuleOf(store.RulePolicy, id); ok && !r.Deleted {
		v.Form.Text, v.Form.Mode = r.Text, modeOrEnforce(viewRule(r).Mode)
	}
	if !c.pageKeyFresh(g, v, "/rules/policies/"+id) {
		return
	}
	_, err := c.opts.Rules.Rollback(g.Request.Context(), c.actor(g), rules.Change{Type: store.RulePolicy, ID: id, IfMatch: &loaded,
		Comment: g.PostForm("comment")}, version)
	if err != nil {
		c.policySaveFailed(g, v, err)
		return
	}
	g.Redirect(http.StatusSeeOther, "/rules/policies/"+url.PathEscape(id))
}

// pageKeyFresh is requireFresh for the editor: when the session's last
// security-key check is too old, it shows the form again (nothing saved)
// with a link to confirm with a key, and answers false.
func (c *Console) pageKeyFresh(g *gin.Context, v *policyPageView, back string) bool {
	return c.pageFresh(g, back, func(stepUp string) {
		v.StepUp = stepUp
		c.renderPolicy(g, http.StatusForbidden, v, c.t(g, "rules.need_fresh_key"))
	})
}

// policySaveFailed shows why a save or rollback was refused on the page:
// a stale form names who changed the policy meanwhile, a 422 its line next
// to the textarea. Other errors get the error page.
func (c *Console) policySaveFailed(g *gin.Context, v *policyPageView, err error) {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		c.failPage(g, err)
		return
	}
	switch ae.Code {
	case apperr.PreconditionMissing: // a new policy's id is taken
		c.renderPolicy(g, apperr.Status(err), v, c.t(g, "rules.exists"))
	case apperr.Stale:
		msg := ae.Msg
		if r, ok := c.opts.Store.RuleOf(store.RulePolicy, v.Form.ID); ok {
			msg = c.t(g, "rules.stale", r.Author, r.Version, r.At.UTC().Format("2006-01-02 15:04:05"))
		}
		c.renderPolicy(g, apperr.Status(err), v, msg)
	case apperr.Unprocessable, apperr.Invalid, apperr.Conflict:
		v.ErrMsg = ae.Msg
		v.ErrLine = ae.Line
		c.renderPolicy(g, apperr.Status(err), v, c.t(g, "rules.invalid"))
	default:
		c.failPage(g, err)
	}
}

// policyModes are the modes of the editor's select, in lifecycle order.
var policyModes = []string{rules.ModeDraft, rules.ModeReportOnly, rules.ModeEnforce}

// modeLine is a policy's top-level mode: line.
var modeLine = regexp.MustCompile(`(?m)^mode:[^\n]*$`)

// withModeLine sets the policy's top-level mode: line to the editor's
// select (appended when absent), leaving every other line where it is so
// that errors name the lines the person typed.
func withModeLine(text, mode string) string {
	if loc := modeLine.FindStringIndex(text); loc != nil {
		return text[:loc[0]] + "mode: " + mode + text[loc[1]:]
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return text + "mode: " + mode + "\n"
}

// modeOrEnforce is a policy's mode as the editor's select shows it: a
// policy without mode is enforced.
func modeOrEnforce(m string) string {
	if m == "" {
		return rules.ModeEnforce
	}
	return m
}

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

// newRuleID is the address of the editor for a new policy or route
// (/rules/policies/new, /rules/routes/new); the new rule's id is a form
// field.
const newRuleID = "new"

// ruleKind is what one editor edits: policies or routes. One code path
// serves both; the kind names the store type, the address and the
// messages that differ.
type ruleKind struct {
	Type   string // store.RulePolicy or store.RuleRoute
	Plural string // the path segment of the pages and the API: policies, routes
	// Msg is the prefix of the kind's messages in the catalogue
	// ("rules." for policies, "rules.route_" for routes): Msg+"stale" …
	Msg string
	// Title and TitleNew are the page titles' catalogue keys.
	Title, TitleNew string
	// Modes are the mode select's choices, in lifecycle order (none for
	// routes).
	Modes []string
}

var (
	policyKind = ruleKind{Type: store.RulePolicy, Plural: "policies", Msg: "rules.", Title: "title.rules_policy",
		TitleNew: "title.rules_policy_new", Modes: []string{rules.ModeDraft, rules.ModeReportOnly, rules.ModeEnforce}}
	routeKind = ruleKind{Type: store.RuleRoute, Plural: "routes", Msg: "rules.route_", Title: "title.rules_route",
		TitleNew: "title.rules_route_new"}
)

// kindOf is the kind of the editor page a handler serves, from its route.
func kindOf(g *gin.Context) ruleKind {
	if strings.HasPrefix(g.FullPath(), "/rules/routes/") {
		return routeKind
	}
	return policyKind
}

// Page is the editor's address for the rule id ("new" for a new one).
func (k ruleKind) Page(id string) string { return "/rules/" + k.Plural + "/" + url.PathEscape(id) }

// ruleForm is the editor's form as loaded or as posted back.
type ruleForm struct {
	ID      string
	Text    string
	Comment string
	Mode    string // a policy's mode select
	// Loaded is the version the form was loaded at: the save's If-Match
	// (0 for a new rule).
	Loaded uint64
	// Days is the preview's replay window.
	Days int
}

// rulePageView is the editor page: the current version, its history and
// the editor, with what went wrong with the last save or the preview.
type rulePageView struct {
	Kind     ruleKind
	New      bool
	Rule     *ruleView
	Versions []versionView
	CanWrite bool
	Form     ruleForm
	// ErrLine and ErrMsg are a 422's line (0 when none) and message, shown
	// next to the textarea.
	ErrLine int
	ErrMsg  string
	// StepUp is where to confirm with a security key when the last check
	// is too old to save.
	StepUp string
	// Preview is the diff and impact of the edited text, not saved.
	Preview *previewView
	// Windows are the preview's replay windows, in days.
	Windows []int
}

// rulePage is GET /rules/policies/:id and /rules/routes/:id (and …/new):
// the rule's YAML, its versions with their diffs, and the editor with its
// preview.
func (c *Console) rulePage(g *gin.Context) {
	if c.opts.Rules == nil {
		c.failPage(g, apperr.New(apperr.NotFound, "Routes and policies are not served on this server."))
		return
	}
	k, id := kindOf(g), g.Param("id")
	if id == newRuleID {
		v := &rulePageView{Kind: k, New: true, Form: ruleForm{Days: defaultPreviewDays}}
		if k.Type == store.RulePolicy {
			v.Form.Mode = rules.ModeDraft
		}
		c.renderRule(g, http.StatusOK, v, "")
		return
	}
	r, ok := c.opts.Store.RuleOf(k.Type, id)
	if !ok || r.Deleted {
		c.failPage(g, apperr.New(apperr.NotFound, "There is no %s %q.", k.Type, id))
		return
	}
	rv := viewRule(r)
	v := &rulePageView{Kind: k, Rule: &rv, Form: ruleForm{ID: id, Text: r.Text, Loaded: r.Version, Days: defaultPreviewDays}}
	if k.Type == store.RulePolicy {
		v.Form.Mode = modeOrEnforce(rv.Mode)
	}
	c.renderRule(g, http.StatusOK, v, "")
}

// renderRule completes v with the history and the role's rights and
// renders the editor page.
func (c *Console) renderRule(g *gin.Context, status int, v *rulePageView, errMsg string) {
	pu, _ := c.pageUser(g)
	v.CanWrite = perms[pu.Role][PermRulesWrite]
	v.Windows = previewWindows
	if !v.New {
		vs, _, err := c.opts.Rules.Versions(g.Request.Context(), v.Kind.Type, v.Form.ID, "", 50)
		if err != nil {
			c.failPage(g, err)
			return
		}
		for _, x := range vs {
			v.Versions = append(v.Versions, viewVersion(x))
		}
		if v.Rule == nil {
			if r, ok := c.opts.Store.RuleOf(v.Kind.Type, v.Form.ID); ok && !r.Deleted {
				rv := viewRule(r)
				v.Rule = &rv
			}
		}
	}
	title := v.Kind.Title
	if v.New {
		title = v.Kind.TitleNew
	}
	c.render(g, status, "rules_edit", &ui.Page{TitleKey: title, Error: errMsg, Script: true, Data: v})
}

// postedRule reads the editor's form (the id of a new rule is a field).
func (c *Console) postedRule(g *gin.Context) (*rulePageView, error) {
	k := kindOf(g)
	f := ruleForm{ID: g.Param("id"), Text: g.PostForm("text"), Comment: g.PostForm("comment"), Mode: g.PostForm("mode")}
	v := &rulePageView{Kind: k, New: f.ID == newRuleID}
	if v.New {
		f.ID = g.PostForm("id")
	}
	loaded, err := strconv.ParseUint(g.DefaultPostForm("loaded", "0"), 10, 64)
	if err != nil {
		return nil, apperr.Field("loaded", "loaded must be the version the form was loaded at")
	}
	f.Loaded = loaded
	f.Days, err = strconv.Atoi(g.DefaultPostForm("days", strconv.Itoa(defaultPreviewDays)))
	if err != nil || !slices.Contains(previewWindows, f.Days) {
		return nil, apperr.Field("days", "days must be 1, 7 or 30")
	}
	if f.Mode != "" && !slices.Contains(k.Modes, f.Mode) {
		return nil, apperr.Field("mode", "mode must be draft, report-only or enforce")
	}
	v.Form = f
	if c.opts.Rules == nil {
		return nil, apperr.New(apperr.NotFound, "Routes and policies are not served on this server.")
	}
	return v, nil
}

// body is the text to save: a policy's with the mode select's mode line.
func (f ruleForm) body() string {
	if f.Mode == "" {
		return f.Text
	}
	return withModeLine(f.Text, f.Mode)
}

// saveRulePage is POST /rules/policies/:id and /rules/routes/:id: the
// editor's Save. It calls the rules service as PUT /api/v1/{kind}/{id}
// does, with the version the form was loaded at as If-Match, so a form
// loaded before someone else's change is refused, never saved over it.
func (c *Console) saveRulePage(g *gin.Context) {
	v, err := c.postedRule(g)
	if err != nil {
		c.failPage(g, err)
		return
	}
	f := v.Form
	if f.ID == "" || f.ID == newRuleID {
		c.renderRule(g, http.StatusUnprocessableEntity, v, c.t(g, v.Kind.Msg+"id_required"))
		return
	}
	if !c.pageKeyFresh(g, v) {
		return
	}
	var match *uint64
	if !v.New {
		match = &f.Loaded
	}
	_, err = c.opts.Rules.Put(g.Request.Context(), c.actor(g), rules.Change{Type: v.Kind.Type, ID: f.ID, IfMatch: match,
		Body: []byte(f.body()), Comment: f.Comment, File: v.Kind.Type})
	if err != nil {
		c.ruleSaveFailed(g, v, err)
		return
	}
	g.Redirect(http.StatusSeeOther, v.Kind.Page(f.ID))
}

// rollbackRulePage is POST /rules/{policies,routes}/:id/rollback: a Roll
// back button of the history, with the same checks as the Save.
func (c *Console) rollbackRulePage(g *gin.Context) {
	k, id := kindOf(g), g.Param("id")
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
	v := &rulePageView{Kind: k, Form: ruleForm{ID: id, Loaded: loaded, Days: defaultPreviewDays}}
	if r, ok := c.opts.Store.RuleOf(k.Type, id); ok && !r.Deleted {
		v.Form.Text = r.Text
		if k.Type == store.RulePolicy {
			v.Form.Mode = modeOrEnforce(viewRule(r).Mode)
		}
	}
	if !c.pageKeyFresh(g, v) {
		return
	}
	_, err := c.opts.Rules.Rollback(g.Request.Context(), c.actor(g), rules.Change{Type: k.Type, ID: id, IfMatch: &loaded,
		Comment: g.PostForm("comment")}, version)
	if err != nil {
		c.ruleSaveFailed(g, v, err)
		return
	}
	g.Redirect(http.StatusSeeOther, k.Page(id))
}

// pageKeyFresh is requireFresh for the editor: when the session's last
// security-key check is too old, it shows the form again (nothing saved)
// with a link to confirm with a key, and answers false.
func (c *Console) pageKeyFresh(g *gin.Context, v *rulePageView) bool {
	back := v.Kind.Page(v.Form.ID)
	if v.New {
		back = v.Kind.Page(newRuleID)
	}
	return c.pageFresh(g, back, func(stepUp string) {
		v.StepUp = stepUp
		c.renderRule(g, http.StatusForbidden, v, c.t(g, v.Kind.Msg+"need_fresh_key"))
	})
}

// ruleSaveFailed shows why a save or rollback was refused on the page: a
// stale form names who changed the rule meanwhile, a 422 its line next to
// the textarea. Other errors get the error page.
func (c *Console) ruleSaveFailed(g *gin.Context, v *rulePageView, err error) {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		c.failPage(g, err)
		return
	}
	switch ae.Code {
	case apperr.PreconditionMissing: // a new rule's id is taken
		c.renderRule(g, apperr.Status(err), v, c.t(g, v.Kind.Msg+"exists"))
	case apperr.Stale:
		msg := ae.Msg
		if r, ok := c.opts.Store.RuleOf(v.Kind.Type, v.Form.ID); ok {
			msg = c.t(g, v.Kind.Msg+"stale", r.Author, r.Version, r.At.UTC().Format("2006-01-02 15:04:05"))
		}
		c.renderRule(g, apperr.Status(err), v, msg)
	case apperr.Unprocessable, apperr.Invalid, apperr.Conflict:
		v.ErrMsg = ae.Msg
		v.ErrLine = ae.Line
		c.renderRule(g, apperr.Status(err), v, c.t(g, v.Kind.Msg+"invalid"))
	default:
		c.failPage(g, err)
	}
}

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

package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/config"
	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/rules"
	"github.com/portier/portier/store"
)

// lintProblem is one error of a policy's YAML, by line (0 when the error
// is about the whole text).
type lintProblem struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// lintPolicy is POST /api/v1/policies/lint: the policy editor's errors as
// you type. The body is one policy's YAML (?id= names it when the text
// has no id); it is parsed and checked as a PUT checks a policy alone,
// and nothing is saved. The checks against the other rules (shadows) run
// when saving.
func (c *Console) lintPolicy(g *gin.Context) {
	body, err := readBody(g, MaxBodyBytes)
	if err != nil {
		c.fail(g, err)
		return
	}
	problems := []lintProblem{}
	if _, err := rules.ParseDoc(store.RulePolicy, "policy", body, g.Query("id")); err != nil {
		var list confyaml.ErrorList
		var ce *config.Error
		switch {
		case errors.As(err, &list):
			for _, e := range list {
				problems = append(problems, lintProblem{Line: e.Line, Message: e.Msg})
			}
		case errors.As(err, &ce):
			problems = append(problems, lintProblem{Line: ce.Line, Message: ce.Msg})
		default:
			c.fail(g, err)
			return
		}
	}
	g.JSON(http.StatusOK, gin.H{"ok": len(problems) == 0, "errors": problems})
}

package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/config"
	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/rules"
)

// lintProblem is one error of a route's or policy's YAML, by line (0 when the error
// is about the whole text).
type lintProblem struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// lintRule is POST /api/v1/policies/lint and /api/v1/routes/lint: the
// editor's errors as you type. The body is one policy's (or route's) YAML
// (?id= names it when the text has no id); it is parsed and checked as a
// PUT checks it alone, and nothing is saved. The checks against the other
// rules (shadows, a route naming a missing or draft policy) run when
// saving.
func (c *Console) lintRule(g *gin.Context) {
	body, err := readBody(g, MaxBodyBytes)
	if err != nil {
		c.fail(g, err)
		return
	}
	problems := []lintProblem{}
	if _, err := rules.ParseDoc(ruleType(g), ruleType(g), body, g.Query("id")); err != nil {
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

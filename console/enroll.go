package console

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/enrollment"
	"github.com/portier/portier/store"
)

// maxCSVBytes bounds an expected-device import.
const maxCSVBytes = 16 << 20

// actor is the caller as the enrollment service records it.
func actor(g *gin.Context) enrollment.Actor {
	return enrollment.Actor{ID: who(g).Actor, RemoteIP: g.ClientIP()}
}

// parseTTL reads an optional duration field ("15m").
func parseTTL(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, apperr.Field(field, "%s must be a positive duration such as 15m or 720h", field)
	}
	return d, nil
}

// issuedCodeView is a new code or token as the API returns it, once.
type issuedCodeView struct {
	ID           string          `json:"id"`
	Code         string          `json:"code"`
	ExpiresAt    time.Time       `json:"expires_at"`
	QRPNG        string          `json:"qr_png"` // base64 PNG
	QRSVG        string          `json:"qr_svg"`
	EnrollURL    string          `json:"enroll_url"`
	Ownership    store.Ownership `json:"ownership"`
	User         string          `json:"user,omitempty"`
	Name         string          `json:"name,omitempty"`
	MaxUses      int             `json:"max_uses"`
	ExpectedOnly bool            `json:"expected_only,omitempty"`
}

func viewIssued(ic *enrollment.IssuedCode) issuedCodeView {
	r := ic.Record
	return issuedCodeView{ID: r.ID, Code: ic.Code, ExpiresAt: r.ExpiresAt, QRPNG: base64.StdEncoding.EncodeToString(ic.QRPNG),
		QRSVG: ic.QRSVG, EnrollURL: ic.EnrollURL, Ownership: r.Ownership, User: r.UserEmail, Name: r.Name,
		MaxUses: r.MaxUses, ExpectedOnly: r.ExpectedOnly}
}

type createCodeRequest struct {
	Ownership string `json:"ownership"`
	User      string `json:"user"`
	TTL       string `json:"ttl"`
	Name      string `json:"name"`
}

// createEnrollCode is POST /api/v1/enrollment/codes: a one-time code.
func (c *Console) createEnrollCode(g *gin.Context) {
	var req createCodeRequest
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	ttl, err := parseTTL("ttl", req.TTL)
	if err != nil {
		c.fail(g, err)
		return
	}
	ic, err := c.opts.Enrollment.CreateCode(g.Request.Context(), actor(g), enrollment.CodeRequest{
		Ownership: store.Ownership(req.Ownership), UserEmail: req.User, TTL: ttl, Name: req.Name})
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, viewIssued(ic))
}

type createTokenRequestBulk struct {
	Name         string `json:"name"`
	Ownership    string `json:"ownership"`
	MaxUses      int    `json:"max_uses"`
	TTL          string `json:"ttl"`
	ExpectedOnly bool   `json:"expected_only"`
}

// createEnrollToken is POST /api/v1/enrollment/tokens: a bulk token.
func (c *Console) createEnrollToken(g *gin.Context) {
	var req createTokenRequestBulk
	if err := decode(g, &req); err != nil {
		c.fail(g, err)
		return
	}
	ttl, err := parseTTL("ttl", req.TTL)
	if err != nil {
		c.fail(g, err)
		return
	}
	ic, err := c.opts.Enrollment.CreateToken(g.Request.Context(), actor(g), enrollment.TokenRequest{
		Ownership: store.Ownership(req.Ownership), Name: req.Name, MaxUses: req.MaxUses, TTL: ttl, ExpectedOnly: req.ExpectedOnly})
	if err != nil {
		c.fail(g, err)
		return
	}
	g.Header("Cache-Control", "no-store")
	g.JSON(http.StatusCreated, viewIssued(ic))
}

// listEnrollCodes is GET /api/v1/enrollment/codes: codes and tokens, never
// their secrets.
func (c *Console) listEnrollCodes(g *gin.Context) {
	g.JSON(http.StatusOK, gin.H{"codes": c.opts.Enrollment.Codes()})
}

// revokeEnrollCode is DELETE /api/v1/enrollment/codes/{id}.
func (c *Console) revokeEnrollCode(g *gin.Context) {
	v, err := c.opts.Enrollment.RevokeCode(g.Request.Context(), actor(g), g.Param("id"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, v)
}

// importExpected is POST /api/v1/enrollment/expected: a CSV of expected
// devices (text/csv), all rows or none.
func (c *Console) importExpected(g *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(g.Writer, g.Request.Body, maxCSVBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		c.fail(g, apperr.New(apperr.TooLarge, "the CSV is larger than %d bytes; split it", maxCSVBytes))
		return
	}
	if err != nil {
		c.fail(g, apperr.Wrap(apperr.Invalid, err, "cannot read the CSV"))
		return
	}
	res, err := c.opts.Enrollment.ImportExpected(g.Request.Context(), actor(g), bytes.NewReader(body))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, res)
}

// listExpected is GET /api/v1/enrollment/expected.
func (c *Console) listExpected(g *gin.Context) {
	exp := c.opts.Store.ExpectedDevices()
	if exp == nil {
		exp = []*store.ExpectedDevice{}
	}
	g.JSON(http.StatusOK, gin.H{"expected": exp})
}

// kpis is GET /api/v1/kpis: enrollment rate, time to provision, time to wipe.
func (c *Console) kpis(g *gin.Context) {
	g.JSON(http.StatusOK, c.opts.Enrollment.KPIs())
}

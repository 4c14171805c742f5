package enrollment

import (
	"context"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/mailaddr"
	"github.com/portier/portier/store"
)

// Bounds of bulk tokens.
const (
	maxTokenUses = 100_000
	maxNameLen   = 100
)

// CodeRequest asks for a one-time enrollment code.
type CodeRequest struct {
	Ownership store.Ownership
	// UserEmail binds the code (and the device) to a person: self-service
	// codes always name the signed-in user.
	UserEmail string
	TTL       time.Duration // 0: Config.CodeTTL
	Name      string
}

// TokenRequest asks for a bulk (zero-touch) token.
type TokenRequest struct {
	Ownership store.Ownership
	Name      string
	MaxUses   int
	TTL       time.Duration // 0: Config.TokenTTL
	// ExpectedOnly lets only devices whose serial is in the expected-device
	// list enroll with the token.
	ExpectedOnly bool
}

// IssuedCode is a new code or token: the secret is shown once, here.
type IssuedCode struct {
	Code      string
	Record    *store.EnrollCode
	EnrollURL string
	QRPNG     []byte
	QRSVG     string
}

// CodeView is a code or token as the API lists it: never the secret.
type CodeView struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"` // "code" or "token"
	Ownership    store.Ownership `json:"ownership"`
	UserEmail    string          `json:"user_email,omitempty"`
	Name         string          `json:"name,omitempty"`
	MaxUses      int             `json:"max_uses"`
	Uses         int             `json:"uses"`
	ExpectedOnly bool            `json:"expected_only,omitempty"`
	CreatedBy    string          `json:"created_by"`
	CreatedAt    time.Time       `json:"created_at"`
	ExpiresAt    time.Time       `json:"expires_at"`
	// Status is active, used, expired or revoked.
	Status string `json:"status"`
}

// enrollOwnership checks an ownership an enrollment may give a device.
func enrollOwnership(field string, o store.Ownership) (store.Ownership, error) {
	if o == "" {
		return store.OwnershipCorporate, nil
	}
	v, err := store.ParseOwnership(string(o))
	if err != nil || v == store.OwnershipUnmanaged {
		return "", apperr.Field(field, "%s must be corporate, cope or byod", field)
	}
	return v, nil
}

// normEmail returns an address in the form Portier stores (package
// mailaddr: trimmed, ASCII only, ASCII-lowercased), or a field error.
func normEmail(field, s string) (string, error) {
	n, err := mailaddr.Normalize(s)
	if err == nil {
		var a *mail.Address
		if a, err = mail.ParseAddress(n); err == nil && a.Address != n {
			err = mailaddr.ErrInvalid
		}
	}
	if err != nil {
		return "", apperr.Field(field, "%s must be an email address such as ada@example.com (plain ASCII)", field)
	}
	return n, nil
}

// CreateCode issues a single-use code valid for req.TTL.
func (s *Service) CreateCode(ctx context.Context, a Actor, req CodeRequest) (*IssuedCode, error) {
	own, err := enrollOwnership("ownership", req.Ownership)
	if err != nil {
		return nil, err
	}
	if req.UserEmail != "" {
		if req.UserEmail, err = normEmail("user", req.UserEmail); err != nil {
			return nil, err
		}
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.CodeTTL
	}
	if ttl < time.Minute || ttl > maxCodeTTL {
		return nil, apperr.Field("ttl", "ttl must be between 1m and %s", maxCodeTTL)
	}
	if len(req.Name) > maxNameLen {
		return nil, apperr.Field("name", "name must be at most %d characters", maxNameLen)
	}
	rec := &store.EnrollCode{Ownership: own, UserEmail: req.UserEmail, Name: req.Name, MaxUses: 1}
	return s.issue(ctx, a, rec, ttl, "enrollment.code.create")
}

// CreateToken issues a bulk token usable req.MaxUses times until it expires.
func (s *Service) CreateToken(ctx context.Context, a Actor, req TokenRequest) (*IssuedCode, error) {
	own, err := enrollOwnership("ownership", req.Ownership)
	if err != nil {
		return nil, err
	}
	if req.MaxUses < 1 || req.MaxUses > maxTokenUses {
		return nil, apperr.Field("max_uses", "max_uses must be between 1 and %d", maxTokenUses)
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.TokenTTL
	}
	if ttl < time.Minute || ttl > maxTokenTTL {
		return nil, apperr.Field("ttl", "ttl must be between 1m and %s", maxTokenTTL)
	}
	if req.Name == "" || len(req.Name) > maxNameLen {
		return nil, apperr.Field("name", "name is required (at most %d characters), e.g. \"Paris office laptops, March\"", maxNameLen)
	}
	rec := &store.EnrollCode{Ownership: own, Name: req.Name, MaxUses: req.MaxUses, ExpectedOnly: req.ExpectedOnly}
	return s.issue(ctx, a, rec, ttl, "enrollment.token.create")
}

func (s *Service) issue(ctx context.Context, a Actor, rec *store.EnrollCode, ttl time.Duration, action string) (*IssuedCode, error) {
	now := s.clock()
	code := newCode()
	canon, _ := normalizeCode(code)
	rec.ID = codeID(canon)
	rec.CreatedBy = a.ID
	rec.CreatedAt = now.UTC()
	rec.ExpiresAt = now.Add(ttl).UTC()
	out := &IssuedCode{Code: code, Record: rec, EnrollURL: s.EnrollURL(code)}
	var err error
	if out.QRPNG, out.QRSVG, err = QR(out.EnrollURL); err != nil {
		return nil, err
	}
	detail := map[string]string{"ownership": string(rec.Ownership), "max_uses": strconv.Itoa(rec.MaxUses),
		"expires_at": rec.ExpiresAt.Format(time.RFC3339)}
	if rec.UserEmail != "" {
		detail["user"] = rec.UserEmail
	}
	if rec.ExpectedOnly {
		detail["expected_only"] = "true"
	}
	if err := s.st.Write(ctx, store.Create(rec), s.auditOp(a, now, action, rec.ID, detail)); err != nil {
		return nil, err
	}
	return out, nil
}

// uses counts a code's claimed uses. Uses are claimed in order as
// "enroll/<id>/1", "/2", ... (a use is only ever claimed as the next
// number), so the count is found by binary search: O(log max) lookups even
// for a token with many thousands of uses.
func (s *Service) uses(c *store.EnrollCode) int {
	lo, hi := 0, c.MaxUses // invariant: use lo is claimed (or lo = 0), use hi+1 is not known
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if s.st.Claimed(claimID(c.ID, mid)) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func claimID(codeID string, n int) string { return "enroll/" + codeID + "/" + strconv.Itoa(n) }

// view describes a code at now.
func (s *Service) view(c *store.EnrollCode, now time.Time) CodeView {
	v := CodeView{ID: c.ID, Kind: "code", Ownership: c.Ownership, UserEmail: c.UserEmail, Name: c.Name,
		MaxUses: c.MaxUses, Uses: s.uses(c), ExpectedOnly: c.ExpectedOnly, CreatedBy: c.CreatedBy,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, Status: "active"}
	if c.MaxUses > 1 {
		v.Kind = "token"
	}
	switch {
	case c.Revoked:
		v.Status = "revoked"
	case v.Uses >= c.MaxUses:
		v.Status = "used"
	case !now.Before(c.ExpiresAt):
		v.Status = "expired"
	}
	return v
}

// Codes lists every code and token, newest first.
func (s *Service) Codes() []CodeView {
	now := s.clock()
	codes := s.st.EnrollCodes()
	out := make([]CodeView, 0, len(codes))
	for _, c := range codes {
		out = append(out, s.view(c, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// RevokeCode stops a code or token from enrolling any more devices.
// Devices it already enrolled stay enrolled.
func (s *Service) RevokeCode(ctx context.Context, a Actor, id string) (CodeView, error) {
	id = strings.ToLower(id)
	c, ok := s.st.EnrollCode(id)
	if !ok {
		return CodeView{}, apperr.New(apperr.NotFound, "no enrollment code or token with id %q", id)
	}
	if c.Revoked {
		return s.view(c, s.clock()), nil
	}
	now := s.clock()
	cp := *c
	cp.Revoked = true
	if err := s.st.Write(ctx, store.Put(&cp), s.auditOp(a, now, "enrollment.code.revoke", id, nil)); err != nil {
		return CodeView{}, err
	}
	return s.view(&cp, now), nil
}

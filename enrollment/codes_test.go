package enrollment

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/apperr"
	"github.com/portier/portier/identity"
	"github.com/portier/portier/store"
)

func TestCreateCodeStoresOnlyTheHash(t *testing.T) {
	e := newEnv(t, nil)
	ic, err := e.svc.CreateCode(context.Background(), admin, CodeRequest{Ownership: store.OwnershipCOPE, UserEmail: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	canon, ok := normalizeCode(ic.Code)
	if !ok || len(ic.Code) != codeLen+4 {
		t.Fatalf("code %q is not in display form", ic.Code)
	}
	rec, ok := e.st.EnrollCode(identity.HashSecret(canon))
	if !ok {
		t.Fatal("code not stored under its hash")
	}
	if strings.Contains(rec.ID, canon) || rec.ID == ic.Code {
		t.Fatal("the store holds the code itself")
	}
	if rec.MaxUses != 1 || rec.UserEmail != "ada@example.com" || rec.Ownership != store.OwnershipCOPE {
		t.Errorf("record = %+v", rec)
	}
	if got := rec.ExpiresAt.Sub(rec.CreatedAt); got != DefaultCodeTTL {
		t.Errorf("ttl = %s, want %s", got, DefaultCodeTTL)
	}
	u, err := url.Parse(ic.EnrollURL)
	if err != nil || u.Host != "portier.example" || u.Path != "/enroll" || u.Query().Get("code") != ic.Code {
		t.Errorf("enroll url = %q", ic.EnrollURL)
	}
	img, err := png.Decode(bytes.NewReader(ic.QRPNG))
	if err != nil || img.Bounds().Dx() != qrPNGSize {
		t.Errorf("QR PNG: %v %v", err, img)
	}
	if !strings.HasPrefix(ic.QRSVG, "<svg ") || !strings.Contains(ic.QRSVG, `<path fill="#000" d="M`) || strings.Contains(ic.QRSVG, "<script") {
		t.Errorf("QR SVG = %.120s", ic.QRSVG)
	}
	audit := e.st.Audit()
	if len(audit) != 1 || audit[0].Action != "enrollment.code.create" || audit[0].Actor != admin.ID || audit[0].Target != rec.ID {
		t.Errorf("audit = %+v", audit)
	}
}

// A code's user is stored under the one e-mail rule (package mailaddr), so
// the device it enrolls is owned by the same address the user signs in with.
func TestCodeUserEmailNormalised(t *testing.T) {
	e := newEnv(t, nil)
	ic, err := e.svc.CreateCode(context.Background(), admin, CodeRequest{Ownership: store.OwnershipCorporate, UserEmail: " Ada@Example.COM "})
	if err != nil {
		t.Fatal(err)
	}
	if ic.Record.UserEmail != "ada@example.com" {
		t.Errorf("stored user = %q, want ada@example.com", ic.Record.UserEmail)
	}
}

func TestCodeRequestsValidated(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		req   CodeRequest
		field string
	}{
		{CodeRequest{Ownership: "unmanaged"}, "ownership"},
		{CodeRequest{Ownership: "personal"}, "ownership"},
		{CodeRequest{UserEmail: "not an email"}, "user"},
		{CodeRequest{UserEmail: "\u212Aim@example.com"}, "user"}, // KELVIN SIGN look-alike of kim@
		{CodeRequest{UserEmail: "Ada <ada@example.com>"}, "user"},
		{CodeRequest{TTL: 30 * time.Second}, "ttl"},
		{CodeRequest{TTL: 8 * 24 * time.Hour}, "ttl"},
	} {
		_, err := e.svc.CreateCode(ctx, admin, tc.req)
		if ae, ok := err.(*apperr.Error); !ok || ae.Field != tc.field {
			t.Errorf("%+v: err = %v, want field %s", tc.req, err, tc.field)
		}
	}
	for _, tc := range []struct {
		req   TokenRequest
		field string
	}{
		{TokenRequest{MaxUses: 10}, "name"},
		{TokenRequest{Name: "x", MaxUses: 0}, "max_uses"},
		{TokenRequest{Name: "x", MaxUses: maxTokenUses + 1}, "max_uses"},
		{TokenRequest{Name: "x", MaxUses: 2, TTL: 400 * 24 * time.Hour}, "ttl"},
	} {
		_, err := e.svc.CreateToken(ctx, admin, tc.req)
		if ae, ok := err.(*apperr.Error); !ok || ae.Field != tc.field {
			t.Errorf("%+v: err = %v, want field %s", tc.req, err, tc.field)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	code := newCode()
	canon, ok := normalizeCode(code)
	if !ok {
		t.Fatalf("%q does not normalize", code)
	}
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	typed = strings.NewReplacer("0", "o", "1", "l").Replace(typed)
	if got, ok := normalizeCode(typed); !ok || got != canon {
		t.Errorf("typed %q -> %q %v, want %q", typed, got, ok, canon)
	}
	for _, bad := range []string{"", "ABC", strings.Repeat("A", 26), strings.Repeat("U", 25), "ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ-ÄÄÄÄÄ", strings.Repeat("-", 70)} {
		if _, ok := normalizeCode(bad); ok {
			t.Errorf("%q normalized", bad)
		}
	}
}

func TestListAndRevokeCodes(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	code := e.code(t, store.OwnershipCorporate)
	tok, err := e.svc.CreateToken(ctx, admin, TokenRequest{Name: "Paris laptops", MaxUses: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.enroll(t, code, agentwire.DeviceInfo{}); err != nil {
		t.Fatal(err)
	}
	views := map[string]CodeView{}
	for _, v := range e.svc.Codes() {
		views[v.Kind] = v
	}
	if v := views["code"]; v.Status != "used" || v.Uses != 1 {
		t.Errorf("code view = %+v", v)
	}
	if v := views["token"]; v.Status != "active" || v.Uses != 0 || v.MaxUses != 3 || v.Name != "Paris laptops" {
		t.Errorf("token view = %+v", v)
	}
	v, err := e.svc.RevokeCode(ctx, admin, tok.Record.ID)
	if err != nil || v.Status != "revoked" {
		t.Fatalf("revoke: %+v %v", v, err)
	}
	_, _, err = e.enroll(t, tok.Code, agentwire.DeviceInfo{})
	wantErr(t, err, apperr.Forbidden, "revoked")
	_, err = e.svc.RevokeCode(ctx, admin, "nope")
	wantErr(t, err, apperr.NotFound, "no enrollment code")
	e.clock.Advance(DefaultTokenTTL + time.Minute)
	tok2, _ := e.svc.CreateToken(ctx, admin, TokenRequest{Name: "later", MaxUses: 2, TTL: time.Hour})
	e.clock.Advance(2 * time.Hour)
	for _, v := range e.svc.Codes() {
		if v.ID == tok2.Record.ID && v.Status != "expired" {
			t.Errorf("expired token shows %s", v.Status)
		}
	}
}

func TestQRSVGIsWellFormed(t *testing.T) {
	_, svg, err := QR("https://portier.example/enroll?code=ABCDE-FGHJK")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(svg, "</svg>") || strings.Count(svg, "<path") != 1 {
		t.Errorf("svg = %s", svg)
	}
}

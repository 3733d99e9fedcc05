package token_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
)

var key = []byte(strings.Repeat("k", 32))

func sign(t *testing.T, method jwt.SigningMethod, k any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func valid() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": "7", "role": "staff", "typ": "access", "iss": token.Issuer, "aud": token.Audience,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "x", "sid": "session-1",
	}
}

func with(mod func(jwt.MapClaims)) jwt.MapClaims {
	c := valid()
	mod(c)
	return c
}

func TestIssueVerify(t *testing.T) {
	m := token.NewManager(key, 30*time.Minute)
	raw, issued, err := m.Issue(7, access.RoleStaff, "session-7")
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID() != 7 || got.Role != access.RoleStaff || got.ID != issued.ID || got.ID == "" || got.SessionID != "session-7" {
		t.Errorf("claims = %+v", got)
	}
	if d := got.ExpiresAt.Sub(got.IssuedAt.Time); d != 30*time.Minute {
		t.Errorf("lifetime = %v", d)
	}
}

func TestVerifyRejects(t *testing.T) {
	m := token.NewManager(key, time.Minute)
	good := sign(t, jwt.SigningMethodHS256, key, valid())
	parts := strings.Split(good, ".")
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","role":"admin","typ":"access"}`)) + "." + parts[2]
	tamperedSig := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())
	critical := jwt.NewWithClaims(jwt.SigningMethodHS256, valid())
	critical.Header["crit"] = []string{"x-unknown"}
	critical.Header["x-unknown"] = true
	withCrit, err := critical.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	// The claims every case below starts from do verify.
	if _, err := m.Verify(good); err != nil {
		t.Fatalf("a well-formed token: %v", err)
	}

	tests := map[string]string{
		"alg none":         none,
		"HS512":            sign(t, jwt.SigningMethodHS512, key, valid()),
		"other key":        sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), valid()),
		"tampered payload": tamperedPayload,
		"tampered sig":     tamperedSig,
		"expired":          sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })),
		"no exp":           sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"wrong iss":        sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"wrong aud":        sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"refresh type":     sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["typ"] = "refresh" })),
		"unknown role":     sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["role"] = "root" })),
		"bad subject":      sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["sub"] = "bob" })),
		"no session id":    sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "sid") })),
		"no issue time":    sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { delete(c, "iat") })),
		"ten years":        sign(t, jwt.SigningMethodHS256, key, with(func(c jwt.MapClaims) { c["exp"] = time.Now().AddDate(10, 0, 0).Unix() })),
		"unknown crit":     withCrit,
		"garbage":          "not.a.token",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := m.Verify(raw); !errors.Is(err, token.ErrInvalid) {
				t.Errorf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
}

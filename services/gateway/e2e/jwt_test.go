package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/supportdesk/supportdesk/pkg/token"
)

// TestTokenAttacks sends forged and misused tokens through the gateway:
// each is refused with 401 and a Bearer challenge.
func TestTokenAttacks(t *testing.T) {
	s := startSystem(t)
	_, u := s.json(201, "POST", "/auth/register", "", map[string]any{"email": "victim@example.com", "password": "V1ctimPassw0rd"})
	id := fmt.Sprint(u["id"])
	_, login := s.json(200, "POST", "/auth/login", "", map[string]string{"email": "victim@example.com", "password": "V1ctimPassw0rd"})
	good := login["access_token"].(string)
	refresh := login["refresh_token"].(string)

	if payload := tokenPayload(t, good); strings.Contains(payload, `"role":"admin"`) || !strings.Contains(payload, `"role":"user"`) {
		t.Fatalf("unexpected payload %s", payload)
	}
	attacks := tokenAttacks(t, id, good, refresh)
	for name, raw := range attacks {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/auth/profile", "/admin/logs/request-actions"} {
				resp, body := s.call("GET", path, raw, nil)
				if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("GET %s = %d %s, want 401 with a Bearer challenge", path, resp.StatusCode, body)
				}
			}
		})
	}

	// A token of a deleted user stops working at the gateway within a second
	// of the deletion, also on routes whose service cannot know of it.
	if resp, _ := s.call("GET", "/user_request/1", good, nil); resp.StatusCode != 404 {
		t.Fatalf("before the deletion, tickets answers %d, want 404", resp.StatusCode)
	}
	admin := s.login(adminEmail, adminPassword)
	s.json(200, "DELETE", "/admin/users/"+id, admin, nil)
	s.waitFor("the deleted user's token refused", time.Second, func() bool {
		resp, _ := s.call("GET", "/user_request/1", good, nil)
		return resp.StatusCode == 401
	})
}

// tokenPayload decodes the payload of a JWT.
func tokenPayload(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(payload)
}

// tokenAttacks returns forged and misused tokens, by name, for the user id
// whose user-role access token is good and refresh token refresh; each
// must be refused.
func tokenAttacks(t *testing.T, id, good, refresh string) map[string]string {
	t.Helper()
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": id, "role": "admin", "typ": "access", "iss": token.Issuer, "aud": token.Audience,
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "forged", "sid": "forged"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		raw, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	key := []byte(secretKey)
	critical := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
	critical.Header["crit"] = []string{"x-bypass"}
	critical.Header["x-bypass"] = true
	withCrit, err := critical.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	elevated := strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1)

	return map[string]string{
		"alg none":                sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"HS512 with the key":      sign(jwt.SigningMethodHS512, key, claims(nil)),
		"another key":             sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), claims(nil)),
		"tampered payload":        parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(elevated)) + "." + parts[2],
		"tampered signature":      parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"expired":                 sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"no exp":                  sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"wrong issuer":            sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["iss"] = "someone-else" })),
		"wrong audience":          sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["aud"] = "another-api" })),
		"refresh type claim":      sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["typ"] = "refresh" })),
		"refresh token as bearer": refresh,
		// Signed with the key, as one who knew it could: still refused when
		// it is not shaped as the system issues its tokens.
		"no session id":       sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { delete(c, "sid") })),
		"valid for ten years": sign(jwt.SigningMethodHS256, key, claims(func(c jwt.MapClaims) { c["exp"] = now.AddDate(10, 0, 0).Unix() })),
		"unknown crit header": withCrit,
	}
}

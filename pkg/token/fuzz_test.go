package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// The fuzz targets verify with a manager whose lifetime reaches back to a
// fixed issue time, so that the genuine token below is the same in every
// fuzzing process and stays valid.
var (
	fuzzKey = []byte(strings.Repeat("f", 32))
	fuzzTTL = 100 * 365 * 24 * time.Hour
	fuzzIat = time.Unix(1_700_000_000, 0)
)

// genuineClaims are the claims of a token as Issue makes it, at fuzzIat.
func genuineClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "7", "role": "staff", "typ": token.TypeAccess, "iss": token.Issuer, "aud": []string{token.Audience},
		"iat": fuzzIat.Unix(), "exp": fuzzIat.Add(fuzzTTL).Unix(), "jti": "fuzz", "sid": "session-7",
	}
}

// genuineToken is a token the fuzz manager accepts.
func genuineToken(tb testing.TB) string {
	tb.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, genuineClaims()).SignedString(fuzzKey)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// checkVerify verifies raw and checks that it is refused with ErrInvalid
// unless it is the genuine token, whose claims it then returns.
func checkVerify(t *testing.T, m *token.Manager, raw, genuine string) {
	t.Helper()
	c, err := m.Verify(raw)
	if err != nil {
		if !errors.Is(err, token.ErrInvalid) {
			t.Fatalf("Verify(%q) = %v, want an error wrapping ErrInvalid", raw, err)
		}
		return
	}
	// Decoding is strict: the genuine token has one spelling only.
	if raw != genuine {
		t.Fatalf("Verify(%q) accepted a token other than the genuine %q", raw, genuine)
	}
	if c.UserID() != 7 || c.Role != access.RoleStaff || c.SessionID != "session-7" || c.ID != "fuzz" {
		t.Fatalf("Verify(%q) = %+v, want the genuine claims", raw, c)
	}
}

// FuzzVerify checks that Verify never panics on any string and refuses
// every one (with ErrInvalid) but the genuine token.
func FuzzVerify(f *testing.F) {
	genuine := genuineToken(f)
	parts := strings.Split(genuine, ".")
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, genuineClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		f.Fatal(err)
	}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, genuineClaims()).SignedString(fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		genuine,
		genuine + ".",
		genuine + "=",
		"Bearer " + genuine,
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		parts[0] + ".." + parts[2],
		parts[1] + "." + parts[0] + "." + parts[2],
		none,
		hs512,
		"", ".", "..", "...", "a.b.c", "e30.e30.", "e30.e30.e30",
		strings.Repeat("A", 10000),
		strings.Repeat(".", 1000),
		"eyJhbGciOiJIUzI1NiJ9.\x00.\xff",
	} {
		f.Add(s)
	}
	m := token.NewManager(fuzzKey, fuzzTTL)
	if _, err := m.Verify(genuine); err != nil {
		f.Fatalf("the genuine token does not verify: %v", err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkVerify(t, m, raw, genuine)
	})
}

// FuzzVerifyMutated changes the genuine token at one place (a byte
// replaced, inserted or removed, or the token cut there) and checks that
// Verify refuses the result unless it is still the genuine token.
func FuzzVerifyMutated(f *testing.F) {
	genuine := genuineToken(f)
	for _, tc := range []struct {
		pos  uint16
		b    byte
		mode uint8
	}{
		{0, 'x', 0}, {10, '.', 0}, {uint16(strings.Index(genuine, ".")), 'A', 0},
		{uint16(len(genuine) - 1), 'A', 0}, {uint16(len(genuine) - 1), 'B', 0},
		{uint16(len(genuine) - 1), '\n', 1}, {uint16(len(genuine) - 5), '=', 1},
		{uint16(len(genuine) / 2), 0, 2}, {uint16(len(genuine) - 1), 0, 3}, {100, 0xff, 1},
	} {
		f.Add(tc.pos, tc.b, tc.mode)
	}
	m := token.NewManager(fuzzKey, fuzzTTL)
	f.Fuzz(func(t *testing.T, pos uint16, b byte, mode uint8) {
		i := int(pos) % (len(genuine) + 1)
		raw := []byte(genuine)
		switch mode % 4 {
		case 0:
			if i == len(raw) {
				return
			}
			raw[i] = b
		case 1:
			raw = slices.Insert(raw, i, b)
		case 2:
			if i == len(raw) {
				return
			}
			raw = slices.Delete(raw, i, i+1)
		case 3:
			raw = raw[:i]
		}
		checkVerify(t, m, string(raw), genuine)
	})
}

// FuzzVerifyClaims signs arbitrary header and claims JSON with the right
// key and checks that Verify never panics, refuses with ErrInvalid, and
// accepts only what it documents: algorithm HS256 without a critical
// extension, an access token of a positive user id and known role, with a
// session id, the system's issuer and audience, an issue time not in the
// future and an expiry not past, at most the configured lifetime apart.
func FuzzVerifyClaims(f *testing.F) {
	claims, err := json.Marshal(genuineClaims())
	if err != nil {
		f.Fatal(err)
	}
	header := `{"alg":"HS256","typ":"JWT"}`
	for _, tc := range [][2]string{
		{header, string(claims)},
		{`{"alg":"none"}`, string(claims)},
		{`{"alg":"HS512"}`, string(claims)},
		{`{"alg":"HS256","crit":["exp"]}`, string(claims)},
		{`{"alg":"hs256"}`, string(claims)},
		{`{"alg":"HS256","alg":"none"}`, string(claims)},
		{header, `{"sub":"7","role":"staff","typ":"access","iss":"supportdesk-auth","aud":"supportdesk-api","iat":1700000000,"exp":1e300,"sid":"s"}`},
		{header, `{"sub":"7","role":"staff","typ":"access","iss":"supportdesk-auth","aud":"supportdesk-api","iat":-1e300,"exp":4000000000,"sid":"s"}`},
		{header, `{"sub":"-7","role":"admin","typ":"access","iss":"supportdesk-auth","aud":["x","supportdesk-api"],"iat":1700000000,"exp":4000000000,"sid":"s"}`},
		{header, `{"sub":"9223372036854775808","role":"user","typ":"access","iss":"supportdesk-auth","aud":"supportdesk-api","iat":1700000000,"exp":4000000000,"sid":"s"}`},
		{header, `{"sub":"7","role":"staff","typ":"access","typ":"refresh","iss":"supportdesk-auth","aud":"supportdesk-api","iat":1700000000.5,"exp":1700000060,"sid":"s"}`},
		{header, `{"sub":"7","role":"staff","typ":"access","iss":"supportdesk-auth","aud":"supportdesk-api","iat":"1700000000","exp":4000000000,"sid":"s"}`},
		{header, `{}`},
		{header, `null`},
		{header, `[]`},
		{"", ""},
	} {
		f.Add(tc[0], tc[1])
	}
	m := token.NewManager(fuzzKey, fuzzTTL)
	f.Fuzz(func(t *testing.T, header, claims string) {
		enc := base64.RawURLEncoding
		signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
		sig, err := jwt.SigningMethodHS256.Sign(signing, fuzzKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := m.Verify(signing + "." + enc.EncodeToString(sig))
		if err != nil {
			if !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("Verify(%s . %s) = %v, want an error wrapping ErrInvalid", header, claims, err)
			}
			return
		}
		var h map[string]any
		_ = json.Unmarshal([]byte(header), &h)
		if _, crit := h["crit"]; h["alg"] != jwt.SigningMethodHS256.Alg() || crit {
			t.Fatalf("Verify accepted the header %s", header)
		}
		now := time.Now()
		const leeway = 5 * time.Second
		switch {
		case c.Type != token.TypeAccess, c.UserID() <= 0, !c.Role.Valid(), c.SessionID == "":
			t.Fatalf("Verify(%s) = %+v: not an access token of a user in a session", claims, c)
		case c.Issuer != token.Issuer || !slices.Contains(c.Audience, token.Audience):
			t.Fatalf("Verify(%s) = %+v: issuer or audience not the system's", claims, c)
		case c.IssuedAt == nil || c.ExpiresAt == nil:
			t.Fatalf("Verify(%s) = %+v: no issue or expiry time", claims, c)
		case c.IssuedAt.After(now.Add(leeway)) || c.ExpiresAt.Before(now.Add(-leeway)):
			t.Fatalf("Verify(%s) = %+v: issued in the future or expired", claims, c)
		case c.ExpiresAt.Sub(c.IssuedAt.Time) > fuzzTTL+leeway:
			t.Fatalf("Verify(%s) = %+v: lifetime beyond %v", claims, c, fuzzTTL)
		}
	})
}

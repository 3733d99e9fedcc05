// Package token issues and verifies the system's JWT access tokens: HS256
// with SECRET_KEY, the algorithm pinned, exp, iss and aud required.
package token

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/supportdesk/supportdesk/pkg/access"
)

// Issuer and Audience are fixed claims of every token the system issues.
const (
	Issuer   = "supportdesk-auth"
	Audience = "supportdesk-api"
)

// TypeAccess is the "typ" claim of an access token; other token kinds carry
// other values and are refused where an access token is expected.
const TypeAccess = "access"

// ErrInvalid is returned for every token that does not verify; the cause is
// wrapped for logs but never shown to clients.
var ErrInvalid = errors.New("invalid token")

// Claims are the claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Role access.Role `json:"role"`
	Type string      `json:"typ"`
	// SessionID names the login session (the refresh-token family) the
	// token belongs to, so that a session can be revoked as a whole.
	SessionID string `json:"sid,omitempty"`
}

// UserID returns the subject as a user id.
func (c Claims) UserID() int64 {
	id, _ := strconv.ParseInt(c.Subject, 10, 64)
	return id
}

// Manager issues and verifies access tokens with one HMAC key.
type Manager struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser

	// verified holds the claims of tokens that verified lately, by the
	// token's text, until each expires: a client sends one token with
	// many requests, and checking it again (base64, HMAC, JSON) was most
	// of the gateway's own work per request. At verifiedMax entries it
	// is emptied and fills again with the tokens in use.
	mu       sync.RWMutex
	verified map[string]Claims
}

// verifiedMax bounds the tokens a Manager remembers (about 0.5 KiB each).
const verifiedMax = 10_000

// notTokenRune reports whether r cannot be part of a compact JWT: three
// base64url segments and two dots. The base64 decoder would skip line
// breaks, letting one token be spelled many ways.
func notTokenRune(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// NewManager returns a Manager signing with key; tokens live for ttl.
func NewManager(key []byte, ttl time.Duration) *Manager {
	return &Manager{
		key:      key,
		ttl:      ttl,
		now:      time.Now,
		verified: make(map[string]Claims),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(Issuer),
			jwt.WithAudience(Audience),
			jwt.WithLeeway(leeway),
			// One spelling per token: no padding, no line breaks, no
			// stray bits in the last base64 character.
			jwt.WithStrictDecoding(),
		),
	}
}

// TTL is the lifetime of the tokens m issues.
func (m *Manager) TTL() time.Duration { return m.ttl }

// Issue returns a signed access token for the user in session sessionID,
// and its claims.
func (m *Manager) Issue(userID int64, role access.Role, sessionID string) (string, Claims, error) {
	now := m.now().UTC()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(m.ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		Role:      role,
		Type:      TypeAccess,
		SessionID: sessionID,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(m.key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("sign token: %w", err)
	}
	return s, c, nil
}

// leeway is the clock skew allowed between the issuer and a verifier.
const leeway = 5 * time.Second

// Verify checks the signature, algorithm, expiry, issuer, audience and type
// of raw and returns its claims. Every failure wraps ErrInvalid. Beyond the
// signature, a token must look like one the system issues: a session id
// (so that it can be revoked), a lifetime no longer than the configured
// one, and no critical header extension (the system understands none, so
// RFC 7515 says to refuse any).
//
// A token verified before is answered from memory until it expires: what
// Verify checks cannot change for the same text but the time.
func (m *Manager) Verify(raw string) (Claims, error) {
	m.mu.RLock()
	c, ok := m.verified[raw]
	m.mu.RUnlock()
	if ok && time.Now().Before(c.ExpiresAt.Add(leeway)) {
		return c, nil
	}
	c, err := m.verify(raw)
	if err != nil {
		return Claims{}, err
	}
	m.mu.Lock()
	if len(m.verified) >= verifiedMax {
		clear(m.verified)
	}
	m.verified[raw] = c
	m.mu.Unlock()
	return c, nil
}

// verify is Verify without the memory.
func (m *Manager) verify(raw string) (Claims, error) {
	if i := strings.IndexFunc(raw, notTokenRune); i >= 0 {
		return Claims{}, fmt.Errorf("%w: %q is not a base64url character", ErrInvalid, raw[i])
	}
	var c Claims
	tok, err := m.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return m.key, nil })
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	_, crit := tok.Header["crit"]
	switch {
	case crit:
		return Claims{}, fmt.Errorf("%w: a critical header extension", ErrInvalid)
	case c.Type != TypeAccess:
		return Claims{}, fmt.Errorf("%w: token type %q is not an access token", ErrInvalid, c.Type)
	case c.UserID() <= 0:
		return Claims{}, fmt.Errorf("%w: subject %q is not a user id", ErrInvalid, c.Subject)
	case !c.Role.Valid():
		return Claims{}, fmt.Errorf("%w: unknown role %q", ErrInvalid, c.Role)
	case c.SessionID == "":
		return Claims{}, fmt.Errorf("%w: no session id", ErrInvalid)
	case c.IssuedAt == nil:
		return Claims{}, fmt.Errorf("%w: no issue time", ErrInvalid)
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > m.ttl+leeway:
		return Claims{}, fmt.Errorf("%w: lifetime %v beyond the configured %v", ErrInvalid, c.ExpiresAt.Sub(c.IssuedAt.Time), m.ttl)
	}
	return c, nil
}

package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/token"
)

const claimsKey = "web.claims"

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Unauthenticated answers 401 with a Bearer challenge.
func Unauthenticated(c *gin.Context, detail string) {
	problem.WriteError(c.Writer, c.Request, nil, fault.New(fault.Unauthenticated, "unauthenticated", detail))
	c.Abort()
}

// Authenticate requires a valid access token and stores its claims for
// Claims to return. A token that any of refuse reports (a revoked session,
// say) is as invalid as a forged one.
func Authenticate(tm *token.Manager, refuse ...func(token.Claims) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := BearerToken(c.Request)
		if raw == "" {
			Unauthenticated(c, "Not authenticated: send an access token as 'Authorization: Bearer <token>'")
			return
		}
		claims, err := tm.Verify(raw)
		if err != nil || refused(claims, refuse) {
			Unauthenticated(c, "Could not validate credentials")
			return
		}
		c.Set(claimsKey, claims)
		c.Next()
	}
}

func refused(c token.Claims, refuse []func(token.Claims) bool) bool {
	for _, f := range refuse {
		if f(c) {
			return true
		}
	}
	return false
}

// Claims returns the claims stored by Authenticate.
func Claims(c *gin.Context) token.Claims {
	v, _ := c.Get(claimsKey)
	claims, _ := v.(token.Claims)
	return claims
}

// Require answers 403 unless the caller's role holds one of perms (see
// access.Check). It runs after Authenticate.
func Require(perms ...access.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := access.Check(Claims(c).Role, perms...); err != nil {
			problem.WriteError(c.Writer, c.Request, nil, err)
			c.Abort()
			return
		}
		c.Next()
	}
}

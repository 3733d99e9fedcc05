// Package guard protects the gateway: rate limits per client address and
// per user, a request body limit, CORS from an allowlist, and security
// headers on every response.
package guard

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/ratelimit"
	"github.com/supportdesk/supportdesk/pkg/web"
)

// RateLimit answers over-limit requests with 429 and tells every client
// where it stands with the RateLimit headers of the IETF draft
// (RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset).
type RateLimit struct {
	buckets *ratelimit.Keyed
	key     func(*gin.Context) string // "" skips the limit
	scope   string
	policy  string // RateLimit-Policy and RateLimit-Limit, the same on every answer
	limit   string
}

func newRateLimit(perMinute int, key func(*gin.Context) string, scope string) *RateLimit {
	b := ratelimit.New(perMinute, time.Minute/time.Duration(perMinute))
	return &RateLimit{
		buckets: b, key: key, scope: scope,
		policy: fmt.Sprintf("%d;w=%s", b.Burst(), seconds(b.Window())),
		limit:  strconv.Itoa(b.Burst()),
	}
}

// PerClient limits each client address to perMinute requests a minute.
func PerClient(perMinute int) *RateLimit {
	return newRateLimit(perMinute, func(c *gin.Context) string { return c.ClientIP() }, "client address")
}

// PerUser limits each authenticated user to perMinute requests a minute;
// it must run after authentication.
func PerUser(perMinute int) *RateLimit {
	return newRateLimit(perMinute, func(c *gin.Context) string { return web.Claims(c).Subject }, "user")
}

// Buckets are the limit's buckets, to share across replicas.
func (l *RateLimit) Buckets() *ratelimit.Keyed { return l.buckets }

// refusedKey marks, in a request's context, a request a rate limit refused.
const refusedKey = "guard.refused"

// Refused reports whether the gateway's rate limits refused the request.
func Refused(c *gin.Context) bool { return c.GetBool(refusedKey) }

func seconds(d time.Duration) string { return strconv.Itoa(int(math.Ceil(d.Seconds()))) }

// Handler enforces the limit.
func (l *RateLimit) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := l.key(c)
		if key == "" {
			c.Next()
			return
		}
		d := l.buckets.Allow(key)
		h := c.Writer.Header()
		h.Set("RateLimit-Policy", l.policy)
		h.Set("RateLimit-Limit", l.limit)
		h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("RateLimit-Reset", seconds(d.Reset))
		if !d.Allowed {
			c.Set(refusedKey, true)
			h.Set("Retry-After", seconds(d.RetryAfter))
			problem.WriteError(c.Writer, c.Request, nil, fault.Newf(fault.TooMany, "rate_limited",
				"Too many requests from this %s; retry in %s s", l.scope, seconds(d.RetryAfter)))
			c.Abort()
			return
		}
		c.Next()
	}
}

// BodyLimit refuses bodies over max bytes with 413: at once when the
// Content-Length says so, and while reading otherwise (the proxy maps the
// read error to 413).
func BodyLimit(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			problem.WriteError(c.Writer, c.Request, nil, fault.Newf(fault.TooLarge, "body_too_large",
				"The request body exceeds %d bytes", max))
			c.Abort()
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// SecurityHeaders sets headers that keep browsers from sniffing, framing or
// leaking the API's answers. /docs gets a policy that lets its own page run.
func SecurityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if strings.HasPrefix(c.Request.URL.Path, "/docs") {
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		} else {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("Cache-Control", "no-store")
		}
		c.Next()
	}
}

// CORS allows cross-origin calls from the listed origins only. Origins are
// echoed one by one, never "*", and credentials are never allowed: the API
// takes bearer tokens, not cookies.
func CORS(origins []string) gin.HandlerFunc {
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		preflight := c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != ""
		if !allowed[origin] {
			if preflight {
				problem.WriteError(c.Writer, c.Request, nil, fault.New(fault.Forbidden, "origin_not_allowed", "Origin "+origin+" is not allowed"))
				c.Abort()
				return
			}
			c.Next()
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "ETag, Location, Retry-After, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-Id, X-Trace-Id")
		if preflight {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

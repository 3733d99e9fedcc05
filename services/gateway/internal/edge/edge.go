// Package edge is the gateway's HTTP side: it checks the access token and
// the route's permission, strips identity headers a client may have sent,
// and proxies the request to the service that owns the route, carrying the
// trace context along.
package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// Revoker reports whether a valid token must nevertheless be refused (for
// example, its user logged out after it was issued).
type Revoker interface {
	Revoked(c token.Claims) bool
}

// Gateway routes the public API to the services.
type Gateway struct {
	tokens    *token.Manager
	upstreams map[route.Upstream]*url.URL
	transport http.RoundTripper
	revoker   Revoker
	logger    *slog.Logger
	userLimit gin.HandlerFunc
	breakers  map[route.Upstream]*breakerTransport // one per upstream, shared by its routes
}

// Option configures a Gateway.
type Option func(*Gateway)

// WithUserLimit runs h on every authenticated route right after the token
// is checked, for limits per user.
func WithUserLimit(h gin.HandlerFunc) Option { return func(g *Gateway) { g.userLimit = h } }

// Middleware is what every answer of the gateway needs, also /health, the
// documentation and a 404: a request id and the trace headers. Install it
// on the engine before any route.
func Middleware() []gin.HandlerFunc { return []gin.HandlerFunc{requestID, traceHeader} }

// New returns a Gateway that proxies to upstreams with transport.
func New(tokens *token.Manager, upstreams map[route.Upstream]*url.URL, transport http.RoundTripper, revoker Revoker, logger *slog.Logger, opts ...Option) *Gateway {
	g := &Gateway{
		tokens:    tokens,
		upstreams: upstreams,
		transport: transport,
		revoker:   revoker,
		logger:    logger,
		breakers:  map[route.Upstream]*breakerTransport{},
	}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Routes registers every route of table on e. It changes nothing else of
// e: the middleware every answer needs is Middleware's.
func (g *Gateway) Routes(e *gin.Engine, table []route.Route) error {
	var refuse []func(token.Claims) bool
	if g.revoker != nil {
		refuse = append(refuse, g.revoker.Revoked)
	}
	authenticate := web.Authenticate(g.tokens, refuse...)
	for _, r := range table {
		target, ok := g.upstreams[r.Upstream]
		if !ok {
			return fmt.Errorf("route %s %s: no URL for upstream %s", r.Method, r.Path, r.Upstream)
		}
		proxy := g.proxy(r.Upstream, target)
		handlers := []gin.HandlerFunc{}
		if !r.Public {
			handlers = append(handlers, authenticate)
			if g.userLimit != nil {
				handlers = append(handlers, g.userLimit)
			}
		}
		if r.Permission != "" {
			handlers = append(handlers, web.Require(r.Permission))
		}
		if r.QueryToBody != "" {
			handlers = append(handlers, queryToBody(r.QueryToBody))
		}
		handlers = append(handlers, func(c *gin.Context) { forward(proxy, c, g.logger) })
		e.Handle(r.Method, r.Path, handlers...)
	}
	return nil
}

// forward proxies the request of c. The request body is read in full
// first, as nginx buffers requests: a slow or broken client is answered
// here (408, 413 or 400) and never holds an upstream's connection or
// counts as the upstream failing. The headers the gateway has set on the
// response so far (its security policy, the request id) win over the
// upstream's copies, which would otherwise be sent as well.
func forward(proxy *httputil.ReverseProxy, c *gin.Context, logger *slog.Logger) {
	r := c.Request
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			bodyFailed(c.Writer, r, logger, err)
			return
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	r = r.WithContext(context.WithValue(r.Context(), forwardingKey{}, forwarding{own: c.Writer.Header(), client: c.ClientIP()}))
	proxy.ServeHTTP(c.Writer, r)
}

// forwarding is what the proxy needs of the gateway's request: the
// response headers the gateway set before proxying, and the client's
// address (see TrustProxies).
type forwarding struct {
	own    http.Header
	client string
}

type forwardingKey struct{}

// TrustProxies makes e believe the X-Forwarded-For of requests from the
// proxies in cidrs (addresses or CIDRs, e.g. a load balancer's subnet):
// the client's address is then the rightmost one in it that is not a
// trusted proxy, otherwise the peer's. That address is what the rate
// limits, the API log and, as the upstreams' X-Forwarded-For, login
// throttling use. No cidrs trusts no proxy.
func TrustProxies(e *gin.Engine, cidrs []string) error {
	e.ForwardedByClientIP = true
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	return e.SetTrustedProxies(cidrs)
}

// bodyFailed answers a request whose body could not be read: too large
// (413), too slow for the server's read timeout (408), or cut off (400).
func bodyFailed(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var netErr net.Error
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		problem.WriteError(w, r, logger, fault.New(fault.TooLarge, "body_too_large", "The request body is too large"))
	case errors.As(err, &netErr) && netErr.Timeout():
		logger.DebugContext(r.Context(), "request body too slow", "err", err)
		w.Header().Set("Connection", "close")
		problem.WriteError(w, r, logger, fault.New(fault.TooSlow, "body_timeout", "The request body did not arrive in time"))
	default:
		logger.DebugContext(r.Context(), "request body cut off", "err", err)
		problem.WriteError(w, r, logger, fault.New(fault.Invalid, "body_incomplete", "The request body could not be read to its end"))
	}
}

// identityHeaders are headers a backend might take as the caller's identity;
// a client must never be able to set them.
var identityPrefixes = []string{"X-User-", "X-Auth-", "X-Forwarded-User", "X-Remote-User", "Remote-User", "X-Actor-"}

func stripIdentity(h http.Header) {
	for name := range h {
		canonical := http.CanonicalHeaderKey(name)
		for _, p := range identityPrefixes {
			if strings.HasPrefix(canonical, p) {
				delete(h, name)
				break
			}
		}
	}
}

// proxy forwards to one upstream, through that upstream's circuit breaker.
func (g *Gateway) proxy(name route.Upstream, target *url.URL) *httputil.ReverseProxy {
	transport, ok := g.breakers[name]
	if !ok {
		transport = newBreakerTransport(string(name), g.transport)
		g.breakers[name] = transport
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			if f, ok := pr.In.Context().Value(forwardingKey{}).(forwarding); ok {
				pr.Out.Header.Set("X-Forwarded-For", f.client)
			}
			pr.Out.Host = target.Host
			stripIdentity(pr.Out.Header)
			// The upstream's span is a child of the gateway's: one span
			// per hop (a client span of its own added nothing an operator
			// reads, and cost a sixth of the hop).
			otel.GetTextMapPropagator().Inject(pr.In.Context(), propagation.HeaderCarrier(pr.Out.Header))
		},
		Transport:  transport,
		BufferPool: copyBuffers,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("Server") // no version banner
			if f, ok := resp.Request.Context().Value(forwardingKey{}).(forwarding); ok {
				for name := range f.own {
					resp.Header.Del(name)
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { g.upstreamFailed(w, r, name, err) },
	}
}

// copyBuffers are the proxies' buffers for copying answers: without a
// pool each answer took a new 32 KiB buffer, half of what the gateway
// allocated.
var copyBuffers = &bufferPool{sync.Pool{New: func() any { return new([32 << 10]byte) }}}

// bufferPool adapts a sync.Pool of arrays to httputil.BufferPool.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return p.pool.Get().(*[32 << 10]byte)[:] }
func (p *bufferPool) Put(b []byte) { p.pool.Put((*[32 << 10]byte)(b)) }

// upstreamFailed answers a request the upstream did not answer.
func (g *Gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, name route.Upstream, err error) {
	var netErr net.Error
	switch {
	case errors.Is(r.Context().Err(), context.Canceled):
		// The client hung up: nothing failed but the wait.
		g.logger.DebugContext(r.Context(), "client went away", "upstream", name, "err", err)
		w.WriteHeader(problem.StatusClientClosed)
	case isOpen(err):
		problem.WriteError(w, r, g.logger, &fault.Error{Kind: fault.Unavailable, Code: "upstream_unavailable", RetryAfter: breakerOpenFor,
			Detail: fmt.Sprintf("The %s service is failing; requests to it are refused for a few seconds; try again shortly", name)})
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		g.logger.WarnContext(r.Context(), "upstream timed out", "upstream", name, "err", err)
		problem.WriteError(w, r, g.logger, fault.Newf(fault.Timeout, "upstream_timeout",
			"The %s service did not answer in time; try again shortly", name))
	default:
		g.logger.ErrorContext(r.Context(), "upstream failed", "upstream", name, "err", err)
		problem.WriteError(w, r, g.logger, &fault.Error{Kind: fault.Unavailable, Code: "upstream_unavailable", RetryAfter: time.Second,
			Detail: fmt.Sprintf("The %s service is unavailable; try again shortly", name)})
	}
}

// queryToBody moves a secret sent the seed's way, as the query parameter
// name, into the JSON body, so that no URL past the gateway (a proxy span's
// url.full, a log line) ever holds it. A body sent along keeps its own.
func queryToBody(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		secret := q.Get(name)
		if secret == "" {
			return
		}
		q.Del(name)
		c.Request.URL.RawQuery = q.Encode()
		if c.Request.ContentLength > 0 {
			return
		}
		body, _ := json.Marshal(map[string]string{name: secret})
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		c.Request.ContentLength = int64(len(body))
		c.Request.Header.Set("Content-Type", "application/json")
	}
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID keeps a well-formed client X-Request-Id or makes one, and
// returns it to the client.
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
		c.Request.Header.Set("X-Request-Id", id)
	}
	c.Header("X-Request-Id", id)
	c.Next()
}

// traceHeader tells the client the trace id of its request, for support
// questions and for finding the trace in Jaeger.
func traceHeader(c *gin.Context) {
	if id := problem.TraceID(c.Request.Context()); id != "" {
		c.Header("X-Trace-Id", id)
	}
	c.Next()
}

package edge_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve answers req through a real HTTP server, as clients reach the gateway
// (httputil.ReverseProxy needs a real connection's ResponseWriter).
func serve(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	req.URL.Scheme, req.URL.Host, req.RequestURI = u.Scheme, u.Host, ""
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rec := httptest.NewRecorder()
	for k, v := range resp.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(rec, resp.Body)
	return rec
}

// seen is what an upstream received.
type seen struct {
	path   string
	header http.Header
}

func upstream(t *testing.T, got chan<- seen) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{path: r.URL.RequestURI(), header: r.Header.Clone()}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

type revoked map[int64]bool

func (r revoked) Revoked(c token.Claims) bool { return r[c.UserID()] }

func setup(t *testing.T, upstreams map[route.Upstream]*url.URL) (*gin.Engine, *token.Manager) {
	t.Helper()
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.Use(edge.Middleware()...)
	gw := edge.New(tm, upstreams, http.DefaultTransport, revoked{66: true}, quiet())
	if err := gw.Routes(e, route.Table()); err != nil {
		t.Fatal(err)
	}
	return e, tm
}

func TestProxyChecksAccessAndStripsIdentity(t *testing.T) {
	got := make(chan seen, 10)
	u := upstream(t, got)
	e, tm := setup(t, map[route.Upstream]*url.URL{route.Auth: u, route.Tickets: u, route.Audit: u, route.Webhooks: u})
	tok := func(id int64, role access.Role) string {
		s, _, _ := tm.Issue(id, role, "s")
		return "Bearer " + s
	}

	tests := []struct {
		name, method, path, auth string
		status                   int
	}{
		{"public register", "POST", "/auth/register", "", 200},
		{"profile without token", "GET", "/auth/profile", "", 401},
		{"profile with garbage", "GET", "/auth/profile", "Bearer nope", 401},
		{"profile", "GET", "/auth/profile", tok(3, access.RoleUser), 200},
		{"revoked user", "GET", "/auth/profile", tok(66, access.RoleUser), 401},
		{"user creates", "POST", "/user_request/", tok(3, access.RoleUser), 200},
		{"user creates, no slash", "POST", "/user_request", tok(3, access.RoleUser), 200},
		{"staff may not create", "POST", "/user_request/", tok(2, access.RoleStaff), 403},
		{"user reads a ticket", "GET", "/user_request/REQ000001", tok(3, access.RoleUser), 200},
		{"user reads logs", "GET", "/admin/logs/request-actions", tok(3, access.RoleUser), 403},
		{"admin reads logs", "GET", "/admin/logs/request-actions?page=2", tok(1, access.RoleAdmin), 200},
		{"unknown route", "GET", "/admin/secret", tok(1, access.RoleAdmin), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{}`))
			req.Header.Set("X-User-Id", "1")
			req.Header.Set("X-User-Role", "admin")
			req.Header.Set("X-Forwarded-User", "admin")
			req.Header["x-remote-user"] = []string{"admin"} // not canonical: sent as it is
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := serve(t, e, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Error("401 without Bearer challenge")
			}
			if tt.status >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("error is %q, not problem+json", rec.Header().Get("Content-Type"))
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if tt.status != 200 {
				return
			}
			s := <-got
			if s.path != tt.path {
				t.Errorf("upstream path = %q, want %q", s.path, tt.path)
			}
			for _, h := range []string{"X-User-Id", "X-User-Role", "X-Forwarded-User", "X-Remote-User"} {
				if v := s.header.Get(h); v != "" {
					t.Errorf("upstream received client header %s: %q", h, v)
				}
			}
			if !strings.HasPrefix(s.header.Get("Traceparent"), "00-"+rec.Header().Get("X-Trace-Id")) || rec.Header().Get("X-Trace-Id") == "" {
				t.Errorf("traceparent %q does not carry the trace id %q", s.header.Get("Traceparent"), rec.Header().Get("X-Trace-Id"))
			}
			if tt.auth != "" && s.header.Get("Authorization") != tt.auth {
				t.Error("Authorization was not forwarded: the services check it again")
			}
		})
	}
}

func TestUpstreamDownIsProblem(t *testing.T) {
	dead, _ := url.Parse("http://127.0.0.1:1")
	e, _ := setup(t, map[route.Upstream]*url.URL{route.Auth: dead, route.Tickets: dead, route.Audit: dead, route.Webhooks: dead})
	rec := serve(t, e, httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{}`)))
	var p map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if rec.Code != 503 || p["detail"] != "The auth service is unavailable; try again shortly" {
		t.Errorf("= %d %v", rec.Code, p)
	}
}

func readyServer(t *testing.T, status int, body string) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func TestHealth(t *testing.T) {
	pgUp := readyServer(t, 200, `{"status":"healthy","components":{"postgres":{"status":"up"},"nats":{"status":"up"}}}`)
	pgDown := readyServer(t, 503, `{"status":"unhealthy","components":{"postgres":{"status":"down","error":"x"}}}`)
	mongoUp := readyServer(t, 200, `{"status":"healthy","components":{"mongodb":{"status":"up"}}}`)
	mongoDown := readyServer(t, 503, `{"status":"unhealthy","components":{"mongodb":{"status":"down"}}}`)
	dead, _ := url.Parse("http://127.0.0.1:1")
	natsOK := func(context.Context) error { return nil }
	natsDown := func(context.Context) error { return errors.New("disconnected") }

	tests := []struct {
		name      string
		upstreams map[route.Upstream]*url.URL
		nats      web.Check
		want      string
		code      int
	}{
		{"all up", map[route.Upstream]*url.URL{route.Auth: pgUp, route.Tickets: pgUp, route.Audit: mongoUp, route.Webhooks: pgUp}, natsOK, "healthy", 200},
		{"mongo down", map[route.Upstream]*url.URL{route.Auth: pgUp, route.Tickets: pgUp, route.Audit: mongoDown, route.Webhooks: pgUp}, natsOK, "degraded", 200},
		{"nats down", map[route.Upstream]*url.URL{route.Auth: pgUp, route.Tickets: pgUp, route.Audit: mongoUp, route.Webhooks: pgUp}, natsDown, "degraded", 200},
		{"postgres down", map[route.Upstream]*url.URL{route.Auth: pgDown, route.Tickets: pgUp, route.Audit: mongoUp, route.Webhooks: pgUp}, natsOK, "unhealthy", 503},
		{"tickets unreachable", map[route.Upstream]*url.URL{route.Auth: pgUp, route.Tickets: dead, route.Audit: mongoUp, route.Webhooks: dead}, natsOK, "unhealthy", 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := edge.NewHealth(http.DefaultClient, tt.upstreams, tt.nats)
			e := gin.New()
			e.GET("/health", h.Handle)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
			var rep edge.Report
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.code || rep.Status != tt.want {
				t.Errorf("= %d %+v, want %d %s", rec.Code, rep, tt.code, tt.want)
			}
			for _, c := range []string{"gateway", "auth", "tickets", "audit", "nats", "postgres", "mongodb"} {
				if _, ok := rep.Components[c]; !ok {
					t.Errorf("component %s missing: %+v", c, rep.Components)
				}
			}
		})
	}
}

// TestRefreshTokenLeavesTheURL: the seed's clients send the refresh token in
// the query string; past the gateway it travels in the body only.
func TestRefreshTokenLeavesTheURL(t *testing.T) {
	type seenBody struct {
		uri  string
		body string
	}
	got := make(chan seenBody, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seenBody{uri: r.URL.RequestURI(), body: string(b)}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	e, _ := setup(t, map[route.Upstream]*url.URL{route.Auth: u, route.Tickets: u, route.Audit: u, route.Webhooks: u})
	rec := serve(t, e, httptest.NewRequest("POST", "/auth/refresh?refresh_token=secret-token", nil))
	if rec.Code != 200 {
		t.Fatalf("= %d", rec.Code)
	}
	s := <-got
	if strings.Contains(s.uri, "secret-token") || s.body != `{"refresh_token":"secret-token"}` {
		t.Errorf("upstream saw %q with body %q", s.uri, s.body)
	}
}

// Behind a trusted proxy the client is the rightmost untrusted address of
// X-Forwarded-For, and that alone reaches the upstream (auth throttles
// logins by it); from anyone else the header is not believed. The
// addresses are documentation ranges, only ever written in headers.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	got := make(chan seen, 1)
	u := upstream(t, got)
	for _, tt := range []struct {
		name    string
		trusted []string
		xff     string
		want    string
	}{
		{"no proxy trusted", nil, "203.0.113.7", "127.0.0.1"},
		{"a trusted proxy", []string{"127.0.0.1/32"}, "203.0.113.7", "203.0.113.7"},
		{"what the client wrote itself is not believed", []string{"127.0.0.1"}, "198.51.100.1, 203.0.113.7", "203.0.113.7"},
		{"trusted hops are skipped", []string{"127.0.0.0/8"}, "203.0.113.7, 127.0.0.5", "203.0.113.7"},
		{"no header from a trusted proxy", []string{"127.0.0.1/32"}, "", "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := setup(t, map[route.Upstream]*url.URL{route.Auth: u, route.Tickets: u, route.Audit: u, route.Webhooks: u})
			if err := edge.TrustProxies(e, tt.trusted); err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{}`))
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			if rec := serve(t, e, req); rec.Code != 200 {
				t.Fatalf("login = %d %s", rec.Code, rec.Body)
			}
			if h := (<-got).header.Values("X-Forwarded-For"); len(h) != 1 || h[0] != tt.want {
				t.Errorf("upstream's X-Forwarded-For = %q, want %q", h, tt.want)
			}
		})
	}
	if err := edge.TrustProxies(gin.New(), []string{"not a network"}); err == nil {
		t.Error("TrustProxies took a bad CIDR")
	}
}

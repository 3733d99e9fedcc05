package guard_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/guard"
)

func newEngine(tm *token.Manager) *gin.Engine {
	e := web.NewEngine(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	e.Use(guard.SecurityHeaders(), guard.CORS([]string{"https://app.example.com"}), guard.PerClient(5).Handler(), guard.BodyLimit(16))
	e.GET("/open", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	e.POST("/echo", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.String(http.StatusRequestEntityTooLarge, "too large")
			return
		}
		c.String(http.StatusOK, string(b))
	})
	e.GET("/mine", web.Authenticate(tm), guard.PerUser(2).Handler(), func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return e
}

func send(e http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestPerClientRateLimit(t *testing.T) {
	e := newEngine(token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute))
	for i := range 5 {
		rec := send(e, httptest.NewRequest("GET", "/open", nil))
		if rec.Code != 200 || rec.Header().Get("RateLimit-Remaining") != string(rune('4'-i)) || rec.Header().Get("RateLimit-Limit") != "5" {
			t.Fatalf("request %d = %d %v", i, rec.Code, rec.Header())
		}
	}
	rec := send(e, httptest.NewRequest("GET", "/open", nil))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "12" || rec.Header().Get("Content-Type") != "application/problem+json" ||
		rec.Header().Get("RateLimit-Policy") != "5;w=60" {
		t.Errorf("over the limit = %d %v", rec.Code, rec.Header())
	}
	other := httptest.NewRequest("GET", "/open", nil)
	other.RemoteAddr = "203.0.113.9:1234"
	if rec := send(e, other); rec.Code != 200 {
		t.Errorf("another client = %d", rec.Code)
	}
}

func TestPerUserRateLimit(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := newEngine(tm)
	call := func(id int64, addr string) int {
		tok, _, _ := tm.Issue(id, access.RoleUser, "s")
		req := httptest.NewRequest("GET", "/mine", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.RemoteAddr = addr
		return send(e, req).Code
	}
	// One user from two addresses shares one budget.
	if a, b, c := call(1, "192.0.2.1:1"), call(1, "192.0.2.2:1"), call(1, "192.0.2.3:1"); a != 200 || b != 200 || c != 429 {
		t.Errorf("user 1 = %d %d %d, want 200 200 429", a, b, c)
	}
	if code := call(2, "192.0.2.4:1"); code != 200 {
		t.Errorf("user 2 = %d", code)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEngine(token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute))
	if rec := send(e, httptest.NewRequest("POST", "/echo", strings.NewReader("small"))); rec.Code != 200 {
		t.Errorf("small body = %d", rec.Code)
	}
	rec := send(e, httptest.NewRequest("POST", "/echo", strings.NewReader(strings.Repeat("x", 17))))
	if rec.Code != 413 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("declared large body = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	chunked := httptest.NewRequest("POST", "/echo", io.MultiReader(strings.NewReader(strings.Repeat("x", 40))))
	chunked.ContentLength = -1
	if rec := send(e, chunked); rec.Code != 413 {
		t.Errorf("undeclared large body = %d", rec.Code)
	}
}

func TestCORSAndHeaders(t *testing.T) {
	e := newEngine(token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute))
	req := func(method, origin string, preflight bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/open", nil)
		r.RemoteAddr = "198.51.100." + origin[len(origin)-1:] + ":1"
		r.Header.Set("Origin", origin)
		if preflight {
			r.Header.Set("Access-Control-Request-Method", "GET")
		}
		return send(e, r)
	}
	rec := req("GET", "https://app.example.com", false)
	if rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" || rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("allowed origin headers = %v", rec.Header())
	}
	if rec := req("GET", "https://evil.example.net", false); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", rec.Header())
	}
	if rec := req("OPTIONS", "https://app.example.com", true); rec.Code != 204 || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", rec.Code, rec.Header())
	}
	if rec := req("OPTIONS", "https://evil.example.net", true); rec.Code != 403 {
		t.Errorf("foreign preflight = %d", rec.Code)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if rec.Header().Get("Server") != "" {
		t.Error("a Server banner is sent")
	}
}

// Behind a trusted load balancer every client has its own bucket, named by
// X-Forwarded-For; without trust they all share the balancer's.
func TestPerClientRateLimitBehindAProxy(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		e := web.NewEngine(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
		if trusted {
			if err := edge.TrustProxies(e, []string{"192.0.2.10/32"}); err != nil {
				t.Fatal(err)
			}
		}
		e.Use(guard.PerClient(1).Handler())
		e.GET("/open", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) })
		from := func(client string) *httptest.ResponseRecorder {
			req := httptest.NewRequest("GET", "/open", nil)
			req.RemoteAddr = "192.0.2.10:40000" // the balancer
			req.Header.Set("X-Forwarded-For", client)
			return send(e, req)
		}
		first, second := from("203.0.113.1"), from("203.0.113.2")
		if trusted && (first.Code != 200 || second.Code != 200 || second.Body.String() != "203.0.113.2") {
			t.Errorf("trusted: two clients = %d %s, %d %s; want both 200, the second named", first.Code, first.Body, second.Code, second.Body)
		}
		if !trusted && (first.Code != 200 || first.Body.String() != "192.0.2.10" || second.Code != 429) {
			t.Errorf("untrusted: two clients = %d %s, %d; want 200 as the balancer, then 429", first.Code, first.Body, second.Code)
		}
	}
}

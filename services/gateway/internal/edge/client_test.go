package edge_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// echoGateway is a gateway with one public route, POST /t, to an upstream
// that reads the body and answers it back with a Cache-Control and a
// request id of its own; the gateway sets both first.
func echoGateway(t *testing.T) *gin.Engine {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Request-Id", "upstream-id")
		_, _ = w.Write(body)
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.Use(edge.Middleware()...)
	e.Use(func(c *gin.Context) {
		c.Header("Cache-Control", "no-store") // as guard.SecurityHeaders does
	})
	gw := edge.New(token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute), map[route.Upstream]*url.URL{route.Tickets: u},
		http.DefaultTransport, nil, quiet())
	if err := gw.Routes(e, []route.Route{{Method: "POST", Path: "/t", Upstream: route.Tickets, Public: true}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestGatewayHeadersAreSentOnce: a header the gateway sets and the
// upstream sets too reaches the client once, with the gateway's value.
func TestGatewayHeadersAreSentOnce(t *testing.T) {
	srv := httptest.NewServer(echoGateway(t))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/t", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("= %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
		t.Errorf("Cache-Control = %q, want once no-store", got)
	}
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] == "upstream-id" {
		t.Errorf("X-Request-Id = %q, want the gateway's once", got)
	}
}

// TestSlowBodyIs408: a client that sends its body slower than the
// server's read timeout gets 408 problem+json, not an upstream failure,
// and such clients never open the upstream's breaker.
func TestSlowBodyIs408(t *testing.T) {
	srv := httptest.NewUnstartedServer(echoGateway(t))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	for i := range 7 { // more than the breaker's five failures in a row
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /t HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nten bytes.")
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(body), "did not arrive in time") {
			t.Fatalf("slow client %d = %d %s %s, want 408 problem+json", i, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	resp, err := http.Post(srv.URL+"/t", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a prompt client after the slow ones = %d, want 200", resp.StatusCode)
	}
}

// TestRoutesChangeNothingElse: the gateway's request id reaches a route
// registered before its API routes and one registered after them alike,
// since Routes installs no middleware of its own.
func TestRoutesChangeNothingElse(t *testing.T) {
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.Use(edge.Middleware()...)
	e.GET("/before", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	gw := edge.New(token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute), map[route.Upstream]*url.URL{}, http.DefaultTransport, nil, quiet())
	if err := gw.Routes(e, nil); err != nil {
		t.Fatal(err)
	}
	e.GET("/after", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for _, path := range []string{"/before", "/after"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNoContent || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("GET %s = %d, X-Request-Id %q; want 204 with a request id", path, rec.Code, rec.Header().Get("X-Request-Id"))
		}
	}
}

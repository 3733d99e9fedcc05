package edge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// TestUpstreamFailureIsBounded: an upstream that does not answer gets a
// 504 after the timeout; after five failures in a row its requests fail at
// once with 503 and Retry-After, without reaching it, while another
// upstream is unaffected; once it answers again, the breaker closes by
// itself. A response streaming after its headers is not cut by the
// timeout.
func TestUpstreamFailureIsBounded(t *testing.T) {
	var hung atomic.Bool
	var calls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/stream" {
			w.Header().Set("Content-Type", "text/csv")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "a,b\r\n")
			w.(http.Flusher).Flush()
			time.Sleep(400 * time.Millisecond) // longer than the timeout, after the headers
			_, _ = io.WriteString(w, "1,2\r\n")
			return
		}
		if hung.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(slow.Close)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"ok":true}`) }))
	t.Cleanup(fast.Close)
	su, _ := url.Parse(slow.URL)
	fu, _ := url.Parse(fast.URL)

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = 150 * time.Millisecond
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.Use(edge.Middleware()...)
	gw := edge.New(tm, map[route.Upstream]*url.URL{route.Tickets: su, route.Auth: fu}, transport, nil, quiet())
	table := []route.Route{
		{Method: "GET", Path: "/tickets", Upstream: route.Tickets, Public: true},
		{Method: "GET", Path: "/stream", Upstream: route.Tickets, Public: true},
		{Method: "GET", Path: "/auth", Upstream: route.Auth, Public: true},
	}
	if err := gw.Routes(e, table); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	get := func(path string) (*http.Response, string, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body), time.Since(start)
	}

	if resp, body, _ := get("/stream"); resp.StatusCode != 200 || body != "a,b\r\n1,2\r\n" {
		t.Errorf("a stream past the timeout = %d %q, want it whole", resp.StatusCode, body)
	}

	hung.Store(true)
	for i := range 5 {
		resp, _, took := get("/tickets")
		if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("silent upstream, call %d = %d %s, want 504 problem+json", i+1, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if took > 2*time.Second {
			t.Errorf("the 504 came after %v", took)
		}
	}
	before := calls.Load()
	resp, _, took := get("/tickets")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || took > 100*time.Millisecond {
		t.Errorf("open breaker = %d (Retry-After %q) in %v, want a fast 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), took)
	}
	if calls.Load() != before {
		t.Error("an open breaker let a request through to the upstream")
	}
	if resp, _, _ := get("/auth"); resp.StatusCode != 200 {
		t.Errorf("another upstream = %d while the first is failing, want 200", resp.StatusCode)
	}

	hung.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _, _ := get("/tickets")
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker did not close after the upstream recovered: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClientHangUpIsNotAnUpstreamFailure: requests whose clients give up
// do not open the breaker.
func TestClientHangUpIsNotAnUpstreamFailure(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") != "" {
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.Use(edge.Middleware()...)
	gw := edge.New(token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute), map[route.Upstream]*url.URL{route.Tickets: u},
		http.DefaultTransport, nil, quiet())
	if err := gw.Routes(e, []route.Route{{Method: "GET", Path: "/t", Upstream: route.Tickets, Public: true}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	for range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/t?wait=1", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		cancel()
	}
	resp, err := http.Get(srv.URL + "/t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after eight clients hung up, a request = %d, want 200", resp.StatusCode)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/cputime"
	"github.com/supportdesk/supportdesk/pkg/freeport"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// BenchmarkHop reads one ticket through the whole gateway, as run starts it
// (tracing, the API log published to JetStream, limits, the token check,
// the proxy), from a stub tickets service that answers at once. Requests go
// one at a time over a kept-alive connection. Besides the time, it reports
// the CPU the process spent per request (cpu-ns/op): the gateway's, the
// stub's, the client's and the NATS server's, so compare it between runs,
// not with S5.
func BenchmarkHop(b *testing.B) {
	const ticket = `{"id":1234,"request_id":"REQ001234","title":"Printer jams","text":"The printer on floor 3 jams again",` +
		`"status":"new","priority":"normal","category":"hardware","owner":{"id":42,"username":"user42","email":"user42@example.com"},` +
		`"staff":null,"version":1,"created_at":"2026-12-07T10:00:00Z","updated_at":"2026-12-07T10:00:00Z"}`
	tickets := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(ticket)))
		io.WriteString(w, ticket)
	}))
	defer tickets.Close()
	port, err := freeport.Get()
	if err != nil {
		b.Fatal(err)
	}
	secret, ttlMinutes := strings.Repeat("k", 40), 30
	env := map[string]string{
		"SECRET_KEY": secret, "ACCESS_TOKEN_EXPIRE_MINUTES": strconv.Itoa(ttlMinutes), "NATS_URL": natstest.Start(b), "LOG_LEVEL": "error",
		"GATEWAY_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "GATEWAY_ADMIN_ADDR": "off", "TICKETS_URL": tickets.URL,
		"RATE_LIMIT_CLIENT_PER_MINUTE": "1000000000", "RATE_LIMIT_USER_PER_MINUTE": "1000000000",
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			b.Error(err)
		}
	}()

	bearer, _, err := token.NewManager([]byte(secret), time.Duration(ttlMinutes)*time.Minute).Issue(42, access.RoleUser, "bench-session")
	if err != nil {
		b.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/user_request/1234", port)
	get := func() (int, error) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status, err := get(); err == nil && status == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			b.Fatalf("the gateway did not answer 200 within 10 s: %d, %v", status, err)
		}
	}

	b.ReportAllocs()
	before, err := cputime.Self()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if status, err := get(); err != nil || status != http.StatusOK {
			b.Fatalf("GET: %d, %v", status, err)
		}
	}
	after, err := cputime.Self()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "cpu-ns/op")
}

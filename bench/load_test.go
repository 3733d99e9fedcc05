package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestByKind(t *testing.T) {
	res := func(method, url string, code uint16, ms int) *vegeta.Result {
		return &vegeta.Result{Method: method, URL: url, Code: code, Latency: time.Duration(ms) * time.Millisecond}
	}
	mix := []*vegeta.Result{
		res("GET", "http://127.0.0.1:1/user_request/12", 200, 2),
		res("GET", "http://127.0.0.1:1/user_request/345", 200, 4),
		res("GET", "http://127.0.0.1:1/user_request/my?size=50", 200, 7),
		res("POST", "http://127.0.0.1:1/user_request/", 201, 9),
		res("POST", "http://127.0.0.1:1/user_request/", 500, 900), // failed: not in the latencies
	}
	want := " (GET /user_request/:id 4.0 ms, GET /user_request/my 7.0 ms, POST /user_request/ 9.0 ms)"
	if got := byKind(mix, 0); got != want {
		t.Errorf("byKind = %q, want %q", got, want)
	}
	if got := byKind(mix[:2], 0); got != "" {
		t.Errorf("one kind: byKind = %q, want nothing", got)
	}
}

// TestBareProxy runs S5's baseline as its process does: it relays to its
// target on the address it writes, and returns once its context ends.
func TestBareProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ticket %s", r.URL.Path)
	}))
	defer upstream.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, w := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- serveBareProxy(ctx, upstream.URL, w) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(strings.TrimSpace(line) + "/user_request/7")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "ticket /user_request/7" {
		t.Errorf("through the bare proxy: %q, %v; want the upstream's answer", body, err)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serveBareProxy returned %v after its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveBareProxy did not return within 5 s of its context ending")
	}
}

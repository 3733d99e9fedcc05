package main

import (
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

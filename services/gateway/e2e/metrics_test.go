package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetrics scrapes every service's /metrics after some traffic: requests
// by route template and status with latency histograms everywhere, the
// outbox backlog of auth and tickets, the lag of every consumer, and the
// gateway's dropped api events, which its admin listener serves (its
// public port answers 404 there, as for pprof).
func TestMetrics(t *testing.T) {
	s := startSystem(t)
	s.login(adminEmail, adminPassword)
	want := map[string][]string{
		"gateway": {`http_requests_total{method="POST",route="/auth/login",status="200"}`, "http_request_duration_seconds_bucket", "gateway_api_events_dropped_total 0", "gateway_api_events_buffered"},
		"auth":    {`http_requests_total{method="POST",route="/auth/login",status="200"}`, "http_request_duration_seconds_bucket", `outbox_backlog_events{table="auth.outbox"}`, `consumer_pending_messages{consumer="auth-ticket-owners"}`},
		"tickets": {"http_request_duration_seconds", `outbox_backlog_events{table="tickets.outbox"}`, `consumer_pending_messages{consumer="tickets-directory"}`, `consumer_unacked_messages{consumer="tickets-directory"}`},
		"audit":   {"http_request_duration_seconds", `consumer_pending_messages{consumer="audit"}`},
	}
	for svc, names := range want {
		resp, err := http.Get(s.metricsURL(svc))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, name := range names {
			if !strings.Contains(string(body), name) {
				t.Errorf("%s /metrics lacks %s", svc, name)
			}
		}
	}
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		resp, body := s.call("GET", path, "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the gateway's public port answers GET %s with %d %s, want 404", path, resp.StatusCode, body)
		}
	}
}

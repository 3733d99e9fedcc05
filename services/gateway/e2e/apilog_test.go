package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoRequestMissingFromTheAPILog drives the gateway as fast as it goes
// for 10 s with the audit service stopped, then starts audit: every request
// is in the API log exactly once (each carries its own X-Request-Id), and
// the gateway dropped no event: NATS was reachable all along.
func TestNoRequestMissingFromTheAPILog(t *testing.T) {
	// A small queue: without backpressure, a burst like this one overflows it.
	s := startSystem(t, "RATE_LIMIT_CLIENT_PER_MINUTE=100000000", "RATE_LIMIT_USER_PER_MINUTE=100000000", "API_EVENT_BUFFER=64")
	tok := s.login("user@company.com", "SecureUserPass123!")
	_, profile := s.json(200, "GET", "/auth/profile", tok, nil)
	userID := fmt.Sprint(profile["id"])
	if err := s.stop("audit"); err != nil {
		t.Fatalf("stop audit: %v", err)
	}

	// The load: GET /user_request/my (tickets) and GET /auth/profile
	// (auth), each with a request id of its own.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const workers = 32
	var sent, failed atomic.Int64
	ids := make([][]string, workers)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("load-%02d-%07d", w, i)
				path := "/user_request/my"
				if i%2 == 1 {
					path = "/auth/profile"
				}
				req, _ := http.NewRequest("GET", s.baseURL+path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1) // not answered: the gateway need not log it
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get("X-Request-Id") != id {
					t.Errorf("request id %q came back as %q", id, resp.Header.Get("X-Request-Id"))
				}
				ids[w] = append(ids[w], id)
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	n := sent.Load()
	t.Logf("%d requests answered in 10 s (%.0f/s), %d not answered", n, float64(n)/10, failed.Load())
	if n < 1000 {
		t.Fatalf("only %d requests answered", n)
	}
	if dropped := s.metric("gateway", "gateway_api_events_dropped_total"); dropped != 0 {
		t.Errorf("the gateway dropped %v events with NATS up", dropped)
	}

	s.restart("audit")
	admin := s.login(adminEmail, adminPassword)
	seen := map[string]int{}
	s.waitFor("every request in the API log", 120*time.Second, func() bool {
		seen = s.apiLogRequestIDs(admin, userID)
		return len(seen) >= int(n)
	})
	missing := 0
	for _, list := range ids {
		for _, id := range list {
			switch seen[id] {
			case 1:
			case 0:
				missing++
			default:
				t.Errorf("request %s is in the API log %d times", id, seen[id])
			}
		}
	}
	if missing > 0 || len(seen) != int(n) {
		t.Errorf("%d of %d requests missing from the API log, which holds %d of the user's requests", missing, n, len(seen))
	}
}

// apiLogRequestIDs walks the user's API log of the last hour by cursor and
// counts each request id of the load.
func (s *system) apiLogRequestIDs(admin, userID string) map[string]int {
	s.t.Helper()
	seen := map[string]int{}
	q := url.Values{"user_id": {userID}, "hours_ago": {"1"}, "size": {"1000"}}
	for {
		_, page := s.json(200, "GET", "/admin/logs/api-logs?"+q.Encode(), admin, nil)
		items, _ := page["items"].([]any)
		for _, it := range items {
			if id, _ := it.(map[string]any)["request_id"].(string); strings.HasPrefix(id, "load-") {
				seen[id]++
			}
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return seen
		}
		q.Set("cursor", next)
	}
}

// metricsURL is where service serves its metrics: the gateway on its
// admin listener, the others on their own port.
func (s *system) metricsURL(service string) string {
	if service == "gateway" {
		service = "gateway-admin"
	}
	return "http://127.0.0.1:" + s.ports[service] + "/metrics"
}

// metric reads a counter or gauge of a service's /metrics (the sum over
// its labels).
func (s *system) metric(service, name string) float64 {
	s.t.Helper()
	return metricAt(s.t, s.metricsURL(service), name)
}

// metricAt reads a counter or gauge of the metrics at url (the sum over
// its labels).
func metricAt(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

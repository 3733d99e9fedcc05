package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// TestGracefulShutdownUnderLoad stops the gateway with SIGTERM while clients
// keep creating tickets. Every request the gateway accepted is answered
// properly (no 5xx, and as many tickets exist as were answered 201), and
// nothing it answered is missing from the audit log: neither the tickets'
// events nor the gateway's buffered api.request events. Once the listener is
// closed, new connections fail at the TCP level (refused, or reset when the
// kernel had queued them); a load balancer takes the instance out first.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	s := startSystem(t)
	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "load@example.com", "password": "L0adPassw0rdX"})
	tok := s.login("load@example.com", "L0adPassw0rdX")

	var mu sync.Mutex
	created := map[string]bool{}
	var bad []string
	refused := 0
	var stopping bool // SIGTERM was sent
	stop := make(chan struct{})
	var workers sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		workers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"text":"load %d-%d"}`, w, i)
				req, _ := http.NewRequest("POST", s.baseURL+"/user_request/", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				// A well-behaved client: with a key, a request that met a
				// closing connection can be retried safely (net/http does).
				req.Header.Set("Idempotency-Key", fmt.Sprintf("load-%d-%d", w, i))
				resp, err := client.Do(req)
				mu.Lock()
				switch {
				case err != nil && stopping && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
					refused++ // the gateway no longer accepts connections
				case err != nil:
					bad = append(bad, err.Error())
				case resp.StatusCode != 201:
					bad = append(bad, resp.Status)
				default:
					created[resp.Header.Get("Location")] = true
				}
				mu.Unlock()
				if resp != nil {
					resp.Body.Close()
				}
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}

	s.waitFor("load to build up", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(created) >= 40
	})
	mu.Lock()
	stopping = true
	mu.Unlock()
	if err := s.stop("gateway"); err != nil {
		t.Errorf("gateway exit status after SIGTERM: %v", err)
	}
	s.waitFor("clients to see the gateway gone", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return refused > 0
	})
	close(stop)
	workers.Wait()
	if len(bad) > 0 {
		t.Errorf("%d requests failed during shutdown, e.g. %q", len(bad), bad[0])
	}
	answered := len(created)
	t.Logf("%d tickets created before the gateway stopped; %d connections refused after", answered, refused)
	conn, err := pgx.Connect(t.Context(), s.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var stored int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM tickets.requests").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != answered {
		t.Errorf("%d tickets stored but %d answered: a request was processed and its answer lost", stored, answered)
	}

	// Ask the audit service directly: the gateway is gone.
	adminTok, _, err := token.NewManager([]byte(secretKey), time.Minute).Issue(1, access.RoleAdmin, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	audit := &system{t: t, baseURL: "http://127.0.0.1:" + s.ports["audit"], client: client}
	count := func(path string, q url.Values) float64 {
		_, page := audit.json(200, "GET", path+"?"+q.Encode(), adminTok, nil)
		return page["total"].(float64)
	}
	s.waitFor("every created ticket in the audit log", 20*time.Second, func() bool {
		return count("/admin/logs/request-actions", url.Values{"action": {"create_request"}, "size": {"1"}}) == float64(answered)
	})
	// Every answered create, and the logins before, left an api.request event.
	s.waitFor("every answered request in the api log", 20*time.Second, func() bool {
		return count("/admin/logs/api-logs", url.Values{"method": {"POST"}, "status_code": {"201"}, "size": {"1"}}) == float64(answered+1)
	})
}

// TestServiceStopLosesNoEvent stops the tickets service with SIGTERM while
// tickets are being created through the gateway, then starts it again:
// requests it accepted were answered, it exited cleanly, and every ticket
// it stored reaches the audit log once, whether its event left through the
// outbox before the stop or after the restart.
func TestServiceStopLosesNoEvent(t *testing.T) {
	s := startSystem(t)
	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "stop@example.com", "password": "St0pPassw0rdX"})
	tok := s.login("stop@example.com", "St0pPassw0rdX")

	answered, unavailable := 0, 0
	stopped := make(chan error, 1)
	for i := 0; i < 400 && unavailable < 5; i++ {
		if i == 20 {
			go func() { stopped <- s.stop("tickets") }()
		}
		resp, body := s.call("POST", "/user_request/", tok, map[string]any{"text": fmt.Sprint("stop ", i)}, "Idempotency-Key", fmt.Sprint("stop-", i))
		switch resp.StatusCode {
		case 201:
			answered++
		case 503:
			unavailable++ // the gateway says tickets is gone: not accepted
		default:
			t.Fatalf("create %d = %d %s", i, resp.StatusCode, body)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("tickets exit status after SIGTERM: %v", err)
	}

	conn, err := pgx.Connect(t.Context(), s.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var stored int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM tickets.requests").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != answered {
		t.Errorf("%d tickets stored but %d answered", stored, answered)
	}

	s.restart("tickets")
	// The gateway's breaker for tickets opened while it was down: it lets
	// a request through to try again within seconds (503 until then).
	s.waitFor("a ticket created through the gateway after the restart", 15*time.Second, func() bool {
		resp, body := s.call("POST", "/user_request/", tok, map[string]any{"text": "after the restart"})
		switch resp.StatusCode {
		case 201:
			return true
		case 503:
			return false
		}
		t.Fatalf("create after the restart = %d %s", resp.StatusCode, body)
		return false
	})
	stored++
	admin := s.login(adminEmail, adminPassword)
	s.waitFor("every stored ticket's creation in the audit log, once", 30*time.Second, func() bool {
		_, page := s.json(200, "GET", "/admin/logs/request-actions?action=create_request&size=1", admin, nil)
		n := int(page["total"].(float64))
		if n > stored {
			t.Fatalf("%d creations in the audit log for %d tickets", n, stored)
		}
		return n == stored
	})
	t.Logf("%d tickets answered before the stop, %d requests refused after", answered, unavailable)
}

package e2e

import (
	"syscall"
	"testing"
	"time"
)

// TestFrozenUpstreamFailsFast freezes the tickets service (SIGSTOP), as a
// hung process would be: requests to it get a 504 after UPSTREAM_TIMEOUT,
// then, with its breaker open, a fast 503 with Retry-After; auth keeps
// answering; once the service thaws, its requests succeed again.
func TestFrozenUpstreamFailsFast(t *testing.T) {
	s := startSystem(t, "UPSTREAM_TIMEOUT=1s")
	tok := s.login("user@company.com", "SecureUserPass123!")
	s.json(200, "GET", "/user_request/my", tok, nil)

	tickets := s.procs["tickets"].cmd.Process
	if err := tickets.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = tickets.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)

	start := time.Now()
	resp, body := s.call("GET", "/user_request/my", tok, nil)
	if resp.StatusCode != 504 || time.Since(start) > 5*time.Second {
		t.Fatalf("frozen tickets = %d after %v: %s; want 504 within seconds", resp.StatusCode, time.Since(start), body)
	}
	var fast bool
	for range 10 {
		start := time.Now()
		resp, _ := s.call("GET", "/user_request/my", tok, nil)
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" && time.Since(start) < 500*time.Millisecond {
			fast = true
			break
		}
		if resp.StatusCode != 504 {
			t.Fatalf("frozen tickets = %d, want 504 until the breaker opens, then 503", resp.StatusCode)
		}
	}
	if !fast {
		t.Fatal("the gateway kept waiting for the frozen service: no fast 503")
	}
	s.json(200, "GET", "/auth/profile", tok, nil) // another upstream is unaffected

	thaw()
	s.waitFor("the tickets service answering again through the gateway", 20*time.Second, func() bool {
		resp, _ := s.call("GET", "/user_request/my", tok, nil)
		return resp.StatusCode == 200
	})
}

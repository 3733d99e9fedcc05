package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTicketJourney is the walking skeleton end to end: register, log in,
// open a ticket, read it back, and find its creation in the audit log with
// the trace id of the request that created it; with the audit log in
// PostgreSQL, as `make run` keeps it, and in MongoDB, as production does.
func TestTicketJourney(t *testing.T) {
	t.Run("audit in postgres", func(t *testing.T) { testTicketJourney(t, startSystem(t)) })
	t.Run("audit in mongodb", func(t *testing.T) { testTicketJourney(t, startSystem(t, withMongo(t))) })
}

func testTicketJourney(t *testing.T, s *system) {

	_, user := s.json(201, "POST", "/auth/register", "", map[string]any{
		"email": "Journey@Example.com", "password": "J0urneyPassw0rd", "first_name": "Jo",
	})
	if user["email"] != "journey@example.com" || user["role"] != "user" || !strings.HasPrefix(user["display_id"].(string), "USR") {
		t.Fatalf("registered user = %v", user)
	}
	tok := s.login("journey@example.com", "J0urneyPassw0rd")
	_, profile := s.json(200, "GET", "/auth/profile", tok, nil)
	if profile["id"] != user["id"] {
		t.Errorf("profile = %v, want user %v", profile, user["id"])
	}

	resp, created := s.json(201, "POST", "/user_request/", tok, map[string]any{"text": "The VPN drops every hour", "priority": "high"})
	traceID := resp.Header.Get("X-Trace-Id")
	if len(traceID) != 32 {
		t.Fatalf("create response has no trace id: %v", resp.Header)
	}
	id := int64(created["id"].(float64))
	displayID := created["display_id"].(string)
	if created["status"] != "new" || displayID != fmt.Sprintf("REQ%06d", id) {
		t.Errorf("created ticket = %v", created)
	}

	_, got := s.json(200, "GET", "/user_request/"+displayID, tok, nil)
	if got["text"] != "The VPN drops every hour" || got["priority"] != "high" {
		t.Errorf("ticket read back = %v", got)
	}
	// The owner is rendered from the tickets service's user directory, fed
	// by auth's events.
	s.waitFor("the owner in the ticket", 10*time.Second, func() bool {
		_, got := s.json(200, "GET", "/user_request/"+displayID, tok, nil)
		owner, _ := got["owner"].(map[string]any)
		return owner["email"] == "journey@example.com"
	})

	// Someone else's ticket does not exist for another user.
	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "other@example.com", "password": "0therPassw0rd"})
	other := s.login("other@example.com", "0therPassw0rd")
	s.json(404, "GET", "/user_request/"+displayID, other, nil)

	// The admin finds the creation in the audit log, with the same trace.
	admin := s.login(adminEmail, adminPassword)
	q := url.Values{"request_id": {fmt.Sprint(id)}, "action": {"create_request"}}
	var item map[string]any
	s.waitFor("ticket.created in request-actions", 20*time.Second, func() bool {
		_, page := s.json(200, "GET", "/admin/logs/request-actions?"+q.Encode(), admin, nil)
		items, _ := page["items"].([]any)
		if len(items) == 0 {
			return false
		}
		if len(items) != 1 || page["total"] != float64(1) {
			t.Fatalf("request-actions = %v, want exactly one item", page)
		}
		item = items[0].(map[string]any)
		return true
	})
	if item["trace_id"] != traceID {
		t.Errorf("audit trace_id = %v, want %s (the create request's)", item["trace_id"], traceID)
	}
	if item["event_type"] != "support.ticket.created.v1" || item["user_id"] != user["id"] || item["role"] != "user" {
		t.Errorf("audit item = %v", item)
	}
	if after, _ := item["after"].(map[string]any); after["text"] != "The VPN drops every hour" {
		t.Errorf("audit item after = %v", item["after"])
	}

	// Access control at the edge.
	for _, c := range []struct {
		method, path, bearer string
		status               int
	}{
		{"GET", "/auth/profile", "", 401},
		{"GET", "/auth/profile", tok + "x", 401},
		{"GET", "/admin/logs/request-actions", tok, 403},
		{"GET", "/admin/logs/request-actions?size=0", admin, 422},
		{"GET", "/no/such/route", tok, 404},
	} {
		resp, body := s.call(c.method, c.path, c.bearer, nil)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s = %d %q %s, want %d problem+json", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status)
		}
		if c.status == 401 && resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("%s %s: 401 without a Bearer challenge", c.method, c.path)
		}
	}
}

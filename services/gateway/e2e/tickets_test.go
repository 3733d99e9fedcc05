package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTicketLifecycle works a ticket through the gateway from every seat:
// its owner, another user, staff and an admin, checking the object-level
// rules on every ticket route, and ends with the ticket's history in the
// audit log.
func TestTicketLifecycle(t *testing.T) {
	s := startSystem(t)
	admin := s.login(adminEmail, adminPassword)
	for _, u := range []string{"ann", "bob"} {
		s.json(201, "POST", "/auth/register", "", map[string]any{"email": u + "@example.com", "password": "Lifecycle1Passw0rd"})
	}
	ann := s.login("ann@example.com", "Lifecycle1Passw0rd")
	bob := s.login("bob@example.com", "Lifecycle1Passw0rd")

	// A staff member registered now can be assigned as soon as auth's event
	// reaches the tickets service.
	_, staffUser := s.json(201, "POST", "/staff/register", admin, map[string]any{"email": "agent@company.com", "password": "Ag3ntPassw0rdX"})
	staff := s.login("agent@company.com", "Ag3ntPassw0rdX")

	_, tk := s.json(201, "POST", "/user_request/", ann, map[string]any{"text": "Laptop will not boot", "priority": "urgent"})
	id := fmt.Sprint(tk["id"])
	path := "/user_request/" + id

	seats := map[string]string{"owner": ann, "other user": bob, "staff": staff, "admin": admin}
	table := []struct {
		method, path string
		body         any
		want         map[string]int
	}{
		{"GET", path, nil, map[string]int{"owner": 200, "other user": 404, "staff": 200, "admin": 200}},
		{"GET", "/user_request/REQ" + fmt.Sprintf("%06s", id), nil, map[string]int{"owner": 200, "other user": 404, "staff": 200, "admin": 200}},
		{"GET", path + "/comments", nil, map[string]int{"owner": 200, "other user": 404, "staff": 200, "admin": 200}},
		{"POST", path + "/comments", map[string]any{"body": "hello"}, map[string]int{"owner": 201, "other user": 404, "staff": 201, "admin": 201}},
		{"PUT", path, map[string]any{"text": "Laptop will not boot at all"}, map[string]int{"owner": 200, "other user": 404, "staff": 403, "admin": 403}},
		{"DELETE", path, nil, map[string]int{"other user": 404, "staff": 403, "admin": 403}},
		{"PUT", "/staff/requests/" + id + "/status", map[string]any{"status": "closed"}, map[string]int{"owner": 403, "other user": 403}},
		{"POST", "/staff/requests/" + id + "/assign", map[string]any{"staff_id": staffUser["id"]}, map[string]int{"owner": 403, "other user": 403, "staff": 403}},
		{"GET", "/admin/requests", nil, map[string]int{"owner": 403, "other user": 403, "staff": 200, "admin": 200}},
		{"GET", "/staff/requests", nil, map[string]int{"owner": 403, "other user": 403, "staff": 200, "admin": 200}},
	}
	for _, row := range table {
		for seat, want := range row.want {
			t.Run(row.method+" "+row.path+" as "+seat, func(t *testing.T) {
				resp, body := s.call(row.method, row.path, seats[seat], row.body)
				if resp.StatusCode != want {
					t.Errorf("= %d %s, want %d", resp.StatusCode, body, want)
				}
			})
		}
	}
	// Lists never show another user's ticket.
	_, mine := s.json(200, "GET", "/user_request/my", bob, nil)
	if mine["total"] != float64(0) {
		t.Errorf("bob's list = %v", mine)
	}
	_, mine = s.json(200, "GET", "/user_request/my", ann, nil)
	if mine["total"] != float64(1) {
		t.Errorf("ann's list = %v", mine)
	}

	// Idempotency-Key: a retried create returns the first ticket.
	_, first := s.json(201, "POST", "/user_request/", bob, map[string]any{"text": "retry"}, "Idempotency-Key", "bob-1")
	_, again := s.json(201, "POST", "/user_request/", bob, map[string]any{"text": "retry"}, "Idempotency-Key", "bob-1")
	if first["id"] != again["id"] {
		t.Errorf("retry created ticket %v after %v", again["id"], first["id"])
	}
	s.json(422, "POST", "/user_request/", bob, map[string]any{"text": "another"}, "Idempotency-Key", "bob-1")
	// Keyset paging: the second page by cursor is not counted.
	_, page1 := s.json(200, "GET", "/admin/requests?size=1", admin, nil)
	cursor, _ := page1["next_cursor"].(string)
	if page1["total"] != float64(2) || cursor == "" {
		t.Fatalf("first page = %v", page1)
	}
	_, page2 := s.json(200, "GET", "/admin/requests?size=1&cursor="+url.QueryEscape(cursor), admin, nil)
	if items := page2["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != tk["id"] || page2["total"] != nil {
		t.Errorf("second page = %v", page2)
	}
	s.json(200, "DELETE", fmt.Sprint("/user_request/", first["id"]), bob, nil)

	// ETag and If-Match through the gateway.
	resp, _ := s.json(200, "GET", path, ann, nil)
	etag := resp.Header.Get("ETag")
	s.json(200, "PUT", path, ann, map[string]any{"title": "Boot failure"}, "If-Match", etag)
	s.json(412, "PUT", path, ann, map[string]any{"title": "Stale"}, "If-Match", etag)

	var assigned map[string]any
	s.waitFor("the new staff member to be assignable", 5*time.Second, func() bool {
		resp, body := s.call("POST", "/staff/requests/"+id+"/assign", admin, map[string]any{"staff_id": staffUser["id"]})
		if resp.StatusCode == 200 {
			_, assigned = s.json(200, "GET", path, admin, nil)
			return true
		}
		if resp.StatusCode != 404 || !strings.Contains(string(body), "Staff member not found") {
			t.Fatalf("assign = %d %s", resp.StatusCode, body)
		}
		return false
	})
	if assigned["status"] != "in_progress" || assigned["staff_member"].(map[string]any)["email"] != "agent@company.com" {
		t.Errorf("assigned ticket = %v", assigned)
	}
	s.json(412, "PUT", "/staff/requests/"+id+"/status", staff, map[string]any{"status": "completed"}, "If-Match", `"`+id+`-1"`)
	s.json(200, "PUT", "/staff/requests/"+id+"/status", staff, map[string]any{"status": "completed", "staff_comment": "Replaced the disk"})
	s.json(201, "POST", path+"/comments", staff, map[string]any{"body": "warranty case", "internal": true})
	_, thread := s.json(200, "GET", path+"/comments", ann, nil)
	for _, c := range thread["items"].([]any) {
		if c.(map[string]any)["internal"] == true {
			t.Error("the owner sees an internal note")
		}
	}
	s.json(409, "PUT", "/staff/requests/"+id+"/status", staff, map[string]any{"status": "new"})

	// The admin's reports see it.
	_, stats := s.json(200, "GET", "/admin/statistics", admin, nil)
	if stats["total_requests"] != float64(1) || stats["completed_requests"] != float64(1) || stats["total_users"] != float64(3) {
		t.Errorf("statistics = %v", stats)
	}
	s.json(403, "GET", "/admin/statistics", staff, nil)
	resp, raw := s.call("GET", "/admin/staff/workload", admin, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"completed_requests":1`) {
		t.Errorf("workload = %d %s", resp.StatusCode, raw)
	}
	resp, raw = s.call("GET", "/admin/requests/export?status=completed", admin, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(string(raw), "ID,Request Text,Status,") || !strings.Contains(string(raw), "\r\n"+id+",Laptop will not boot at all,completed,") {
		t.Errorf("export = %d %q", resp.StatusCode, raw)
	}
	if resp, _ := s.call("GET", "/admin/requests/export", ann, nil); resp.StatusCode != 403 {
		t.Errorf("a user exports: %d", resp.StatusCode)
	}
	s.json(200, "PUT", "/staff/requests/"+id+"/status", admin, map[string]any{"status": "closed"})
	s.json(200, "DELETE", path, ann, nil)

	// The ticket's whole history, reads and changes, is in the audit log.
	want := []string{"create_request", "view_request", "add_comment", "update_request", "assign_request", "change_status", "add_comment", "change_status", "delete_request"}
	s.waitFor("the ticket's history in request-actions", 20*time.Second, func() bool {
		_, page := s.json(200, "GET", "/admin/logs/request-actions?"+url.Values{"request_id": {id}, "size": {"100"}}.Encode(), admin, nil)
		seen := map[string]bool{}
		for _, it := range page["items"].([]any) {
			seen[it.(map[string]any)["action"].(string)] = true
		}
		for _, a := range want {
			if !seen[a] {
				return false
			}
		}
		return true
	})
}

package api_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// The directory of setup: 1 admin, 2 staff, 3 ann (user), 4 bob (user);
// tests add 5, a second staff member.
type people struct {
	admin, staff, staff2, ann, bob string
}

func (e env) people(t *testing.T) people {
	t.Helper()
	pgtest.Exec(t, e.pool, `INSERT INTO tickets.users (id, email, role, active) VALUES (5, 'staff2@company.com', 'staff', true)`)
	return people{
		admin: e.token(t, 1, access.RoleAdmin), staff: e.token(t, 2, access.RoleStaff), staff2: e.token(t, 5, access.RoleStaff),
		ann: e.token(t, 3, access.RoleUser), bob: e.token(t, 4, access.RoleUser),
	}
}

// with sends a request with extra headers.
func (e env) with(t *testing.T, method, path, body, bearer string, headers ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.serve(req)
}

func (e env) create(t *testing.T, bearer, text string) int64 {
	t.Helper()
	rec, tk := e.do(t, "POST", "/user_request/", `{"text":"`+text+`"}`, bearer)
	if rec.Code != 201 {
		t.Fatalf("create = %d %v", rec.Code, tk)
	}
	return int64(tk["id"].(float64))
}

func (e env) events(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(t.Context(), "SELECT event->>'type' FROM tickets.outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(s, "support.ticket."), ".v1"))
	}
	return out
}

func TestUpdateAndDelete(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	id := e.create(t, p.ann, "first text")
	path := fmt.Sprintf("/user_request/%d", id)

	rec, tk := e.with(t, "PUT", path, `{"text":"better text","title":"Printer","priority":"high"}`, p.ann, "If-Match", `"1-1"`)
	if rec.Code != 200 || tk["text"] != "better text" || tk["title"] != "Printer" || tk["version"] != float64(2) || rec.Header().Get("ETag") != `"1-2"` {
		t.Fatalf("update = %d %v %v", rec.Code, tk, rec.Header())
	}
	if rec, body := e.with(t, "PUT", path, `{"text":"stale"}`, p.ann, "If-Match", `"1-1"`); rec.Code != 412 {
		t.Errorf("stale If-Match = %d %v", rec.Code, body)
	}
	rec, tk = e.with(t, "PUT", path, `{"title":null}`, p.ann)
	if rec.Code != 200 || tk["title"] != nil || tk["text"] != "better text" {
		t.Errorf("clear title = %d %v", rec.Code, tk)
	}
	for name, c := range map[string]struct {
		body, bearer string
		status       int
	}{
		"null text":        {`{"text":null}`, p.ann, 422},
		"blank text":       {`{"text":"  "}`, p.ann, 422},
		"status field":     {`{"status":"closed"}`, p.ann, 422},
		"other user":       {`{"text":"x"}`, p.bob, 404},
		"staff":            {`{"text":"x"}`, p.staff, 403},
		"admin, not owner": {`{"text":"x"}`, p.admin, 403},
	} {
		t.Run(name, func(t *testing.T) {
			if rec, body := e.with(t, "PUT", path, c.body, c.bearer); rec.Code != c.status {
				t.Errorf("= %d %v, want %d", rec.Code, body, c.status)
			}
		})
	}

	// Once in progress, the owner can neither change nor delete it.
	if rec, body := e.with(t, "PUT", fmt.Sprintf("/staff/requests/%d/status", id), `{"status":"in_progress"}`, p.staff); rec.Code != 200 {
		t.Fatalf("claim = %d %v", rec.Code, body)
	}
	if rec, body := e.with(t, "PUT", path, `{"text":"late"}`, p.ann); rec.Code != 400 || body["detail"] != "Cannot update request that is being processed" {
		t.Errorf("update in progress = %d %v", rec.Code, body)
	}
	if rec, body := e.with(t, "DELETE", path, "", p.ann); rec.Code != 400 || body["detail"] != "Cannot delete request in progress" {
		t.Errorf("delete in progress = %d %v", rec.Code, body)
	}

	other := e.create(t, p.ann, "to delete")
	otherPath := fmt.Sprintf("/user_request/%d", other)
	if rec, _ := e.with(t, "DELETE", otherPath, "", p.bob); rec.Code != 404 {
		t.Errorf("bob deletes ann's = %d", rec.Code)
	}
	if rec, body := e.with(t, "DELETE", otherPath, "", p.ann); rec.Code != 200 || body["message"] != "Request deleted successfully" {
		t.Errorf("delete = %d %v", rec.Code, body)
	}
	if rec, _ := e.with(t, "GET", otherPath, "", p.ann); rec.Code != 404 {
		t.Errorf("deleted ticket = %d", rec.Code)
	}
	want := []string{"created", "updated", "updated", "status_changed", "assigned", "created", "deleted"}
	if got := e.events(t); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestStatusMachine(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	id := e.create(t, p.ann, "help")
	status := func(bearer, body string, headers ...string) (int, map[string]any) {
		rec, out := e.with(t, "PUT", fmt.Sprintf("/staff/requests/%d/status", id), body, bearer, headers...)
		return rec.Code, out
	}
	steps := []struct {
		name, bearer, body string
		want               int
		status             string
		staff              any
		comment            any
	}{
		{"user may not", p.ann, `{"status":"in_progress"}`, 403, "new", nil, nil},
		{"new to completed is illegal", p.staff, `{"status":"completed"}`, 409, "new", nil, nil},
		{"unknown status", p.staff, `{"status":"done"}`, 422, "new", nil, nil},
		{"staff claims", p.staff, `{"status":"in_progress","staff_comment":"looking"}`, 200, "in_progress", "staff@company.com", "looking"},
		{"another staff member may not", p.staff2, `{"status":"completed"}`, 403, "in_progress", "staff@company.com", "looking"},
		{"omitted comment is kept", p.staff, `{"status":"completed"}`, 200, "completed", "staff@company.com", "looking"},
		{"reopen", p.staff, `{"status":"in_progress","staff_comment":"again"}`, 200, "in_progress", "staff@company.com", "again"},
		{"admin closes, stays out", p.admin, `{"status":"closed"}`, 200, "closed", "staff@company.com", "again"},
		{"closed is final for staff", p.staff, `{"status":"in_progress"}`, 409, "closed", "staff@company.com", "again"},
		{"admin reopens", p.admin, `{"status":"in_progress"}`, 200, "in_progress", "staff@company.com", "again"},
		{"back to new unassigns", p.staff, `{"status":"new"}`, 200, "new", nil, "again"},
		{"admin moves on without becoming assignee", p.admin, `{"status":"in_progress"}`, 200, "in_progress", nil, "again"},
	}
	for _, s := range steps {
		code, body := status(s.bearer, s.body)
		if code != s.want {
			t.Fatalf("%s: = %d %v, want %d", s.name, code, body, s.want)
		}
		_, tk := e.with(t, "GET", fmt.Sprintf("/user_request/%d", id), "", p.admin)
		var staff any
		if m, ok := tk["staff_member"].(map[string]any); ok {
			staff = m["email"]
		}
		if tk["status"] != s.status || staff != s.staff || tk["staff_comment"] != s.comment {
			t.Fatalf("%s: ticket = status %v staff %v comment %v; want %s %v %v", s.name, tk["status"], staff, tk["staff_comment"], s.status, s.staff, s.comment)
		}
	}
	if code, _ := status(p.admin, `{"status":"completed"}`, "If-Match", `"1-2"`); code != 412 {
		t.Errorf("stale If-Match = %d", code)
	}
}

func TestAssign(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	id := e.create(t, p.ann, "assign me")
	path := fmt.Sprintf("/staff/requests/%d/assign", id)
	for name, c := range map[string]struct {
		body, bearer string
		status       int
	}{
		"staff may not":       {`{"staff_id":2}`, p.staff, 403},
		"unknown staff":       {`{"staff_id":99}`, p.admin, 404},
		"a user is not staff": {`{"staff_id":3}`, p.admin, 404},
		"missing staff_id":    {`{}`, p.admin, 422},
	} {
		t.Run(name, func(t *testing.T) {
			if rec, body := e.with(t, "POST", path, c.body, c.bearer); rec.Code != c.status {
				t.Errorf("= %d %v, want %d", rec.Code, body, c.status)
			}
		})
	}
	rec, tk := e.with(t, "POST", path, `{"staff_id":"USR000005"}`, p.admin)
	if rec.Code != 200 || tk["status"] != "in_progress" || tk["staff_member"].(map[string]any)["email"] != "staff2@company.com" {
		t.Fatalf("assign = %d %v", rec.Code, tk)
	}
	if rec, body := e.with(t, "POST", path, `{"staff_id":99}`, p.admin); rec.Code != 404 || body["detail"] != "Staff member not found" {
		t.Errorf("unknown staff = %d %v", rec.Code, body)
	}
	if got := e.events(t); strings.Join(got, ",") != "created,assigned" {
		t.Errorf("events = %v", got)
	}
}

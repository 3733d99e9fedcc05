package e2e

import (
	"fmt"
	"net/url"
	"testing"
)

// TestSearch searches the three lists through the gateway like a client:
// users find their own tickets only, by title, text and public comments;
// staff also find internal notes; a bad q is a 422 problem.
func TestSearch(t *testing.T) {
	s := startSystem(t)
	user := s.login("user@company.com", "SecureUserPass123!")
	staff := s.login("staff@company.com", "SecureStaffPass123!")
	admin := s.login(adminEmail, adminPassword)
	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "other@example.com", "password": "0therPassw0rd"})
	other := s.login("other@example.com", "0therPassw0rd")

	_, mine := s.json(201, "POST", "/user_request/", user, map[string]any{"title": "Printer jams", "text": "The printer on floor 3 jams"})
	_, theirs := s.json(201, "POST", "/user_request/", other, map[string]any{"text": "my printer is out of toner"})
	id := mine["display_id"].(string)
	s.json(201, "POST", "/user_request/"+id+"/comments", staff, map[string]any{"body": "Ordered a new fuser unit"})
	s.json(201, "POST", "/user_request/"+id+"/comments", staff, map[string]any{"body": "Warranty claim filed", "internal": true})

	found := func(bearer, path string) []string {
		t.Helper()
		_, page := s.json(200, "GET", path, bearer, nil)
		var out []string
		items, _ := page["items"].([]any)
		for _, it := range items {
			out = append(out, it.(map[string]any)["display_id"].(string))
		}
		return out
	}
	for _, c := range []struct {
		bearer, path string
		want         []string
	}{
		{user, "/user_request/my?q=printer", []string{id}},
		{user, "/user_request/my?q=fuser", []string{id}},
		{user, "/user_request/my?q=warranty", nil},
		{user, "/user_request/my?q=toner", nil},
		{staff, "/staff/requests?unassigned=true&q=warranty", []string{id}},
		{admin, "/admin/requests?q=" + url.QueryEscape("printer -toner"), []string{id}},
		{admin, "/admin/requests?q=toner", []string{theirs["display_id"].(string)}},
	} {
		if got := found(c.bearer, c.path); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("GET %s found %v, want %v", c.path, got, c.want)
		}
	}
	resp, body := s.call("GET", "/admin/requests?q=bad%00query", admin, nil)
	if resp.StatusCode != 422 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("a NUL in q = %d %s, want a 422 problem", resp.StatusCode, body)
	}
}

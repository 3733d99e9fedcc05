package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

func ids(page map[string]any) []int64 {
	var out []int64
	items, _ := page["items"].([]any)
	for _, it := range items {
		out = append(out, int64(it.(map[string]any)["id"].(float64)))
	}
	return out
}

func TestLists(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	// Six tickets: ann owns 1-4, bob 5-6; staff 2 holds 2, staff 5 holds 3.
	for i := range 6 {
		owner := p.ann
		if i >= 4 {
			owner = p.bob
		}
		e.create(t, owner, fmt.Sprintf("ticket %d", i+1))
	}
	pgtest.Exec(t, e.pool, `UPDATE tickets.requests SET staff_id = 2, status = 'in_progress' WHERE id = 2`)
	pgtest.Exec(t, e.pool, `UPDATE tickets.requests SET staff_id = 5, status = 'completed' WHERE id = 3`)
	// Known creation days for the date filters.
	pgtest.Exec(t, e.pool, `UPDATE tickets.requests SET created_at = ('2026-03-0'||id||'T10:00:00Z')::timestamptz`)

	tests := []struct {
		name, path, bearer string
		want               []int64
		total              float64
	}{
		{"my, newest first", "/user_request/my", p.ann, []int64{4, 3, 2, 1}, 4},
		{"my, filtered by status", "/user_request/my?status=completed", p.ann, []int64{3}, 1},
		{"my never shows others", "/user_request/my?owner_id=4", p.ann, []int64{4, 3, 2, 1}, 4},
		{"staff: assigned by default", "/staff/requests", p.staff, []int64{2}, 1},
		{"staff: the open queue", "/staff/requests?unassigned=true", p.staff, []int64{6, 5, 4, 1}, 4},
		{"staff: by owner", "/staff/requests?owner_id=4", p.staff, []int64{6, 5}, 2},
		{"staff: by staff", "/staff/requests?staff_id=USR000005", p.staff, []int64{3}, 1},
		{"admin: all by default", "/staff/requests", p.admin, []int64{6, 5, 4, 3, 2, 1}, 6},
		{"admin list", "/admin/requests?status=new", p.admin, []int64{6, 5, 4, 1}, 4},
		{"date-only date_to includes the day", "/admin/requests?date_from=2026-03-02&date_to=2026-03-04", p.admin, []int64{4, 3, 2}, 3},
		{"RFC 3339 bounds", "/admin/requests?date_from=2026-03-02T10:00:00Z&date_to=2026-03-03T10:00:00Z", p.admin, []int64{3, 2}, 2},
		{"paging", "/admin/requests?size=4&page=2", p.admin, []int64{2, 1}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, page := e.do(t, "GET", tt.path, "", tt.bearer)
			if rec.Code != 200 {
				t.Fatalf("= %d %v", rec.Code, page)
			}
			if got := ids(page); fmt.Sprint(got) != fmt.Sprint(tt.want) || page["total"] != tt.total {
				t.Errorf("ids %v total %v, want %v total %v", got, page["total"], tt.want, tt.total)
			}
		})
	}

	rec, page := e.do(t, "GET", "/admin/requests?size=4&page=2", "", p.admin)
	if rec.Code != 200 || page["pages"] != float64(2) || page["page"] != float64(2) || page["size"] != float64(4) || page["next_cursor"] != nil {
		t.Errorf("envelope = %v", page)
	}
	item := page["items"].([]any)[0].(map[string]any)
	if item["owner_email"] != "ann@example.com" || item["staff_member_email"] != "staff@company.com" || item["display_id"] != "REQ000002" {
		t.Errorf("list item = %v", item)
	}

	// Keyset paging walks the whole list without OFFSET.
	var walked []int64
	next := ""
	for range 10 {
		q := url.Values{"size": {"4"}}
		if next != "" {
			q.Set("cursor", next)
		}
		_, page := e.do(t, "GET", "/admin/requests?"+q.Encode(), "", p.admin)
		if next != "" && (page["total"] != nil || page["pages"] != nil) {
			t.Errorf("a page reached by cursor was counted: %v", page)
		}
		walked = append(walked, ids(page)...)
		c, ok := page["next_cursor"].(string)
		if !ok {
			break
		}
		next = c
	}
	if fmt.Sprint(walked) != "[6 5 4 3 2 1]" {
		t.Errorf("cursor walk = %v", walked)
	}

	for _, bad := range []string{"size=0", "size=101", "page=0", "status=done", "date_from=yesterday", "owner_id=x", "cursor=!!", "unassigned=maybe"} {
		t.Run("422 "+bad, func(t *testing.T) {
			rec, body := e.do(t, "GET", "/admin/requests?"+bad, "", p.admin)
			if rec.Code != 422 || body["errors"] == nil {
				t.Errorf("= %d %v", rec.Code, body)
			}
		})
	}
	if rec, _ := e.do(t, "GET", "/admin/requests", "", p.ann); rec.Code != 403 {
		t.Errorf("user on the admin list = %d", rec.Code)
	}
	if n := len(e.events(t)); n != 6 {
		t.Errorf("%d events after six creates and only reads, want 6", n)
	}
}

// TestListBounds: a page by number must end within the first 10,000
// tickets, and a count stops at 10,000 and says so, so that neither an
// offset nor a count reads a large part of the table; a cursor reads on.
func TestListBounds(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	pgtest.Exec(t, e.pool, `INSERT INTO tickets.requests (owner_id, text, status, priority, created_at, updated_at)
		SELECT 3, 'bulk ' || i, 'new', 'normal', now() - i * interval '1 second', now() FROM generate_series(1, 10005) AS i`)

	rec, page := e.do(t, "GET", "/admin/requests?size=100&page=100", "", p.admin)
	if rec.Code != 200 || page["total"] != float64(10000) || page["total_capped"] != true || page["pages"] != float64(100) || page["next_cursor"] == nil {
		t.Errorf("last page within the bound = %d total %v capped %v pages %v next %v, want 200, 10000 capped, 100 pages and a cursor",
			rec.Code, page["total"], page["total_capped"], page["pages"], page["next_cursor"])
	}
	next, _ := page["next_cursor"].(string)
	rec, deeper := e.do(t, "GET", "/admin/requests?size=100&cursor="+url.QueryEscape(next), "", p.admin)
	if rec.Code != 200 || len(ids(deeper)) != 5 {
		t.Errorf("the page after it by cursor = %d with %d tickets, want the last 5", rec.Code, len(ids(deeper)))
	}
	for _, q := range []string{"size=100&page=101", "page=1000000&size=100", "size=1&page=10001"} {
		rec, body := e.do(t, "GET", "/admin/requests?"+q, "", p.admin)
		if rec.Code != 422 || !strings.Contains(fmt.Sprint(body["errors"]), "next_cursor") {
			t.Errorf("%s = %d %v, want 422 pointing to the cursor", q, rec.Code, body)
		}
	}
	rec, small := e.do(t, "GET", "/admin/requests?status=new&owner_id=3&size=1", "", p.admin)
	if rec.Code != 200 || small["total_capped"] != true {
		t.Errorf("filtered count = %d %v", rec.Code, small["total"])
	}
	rec, none := e.do(t, "GET", "/admin/requests?status=closed", "", p.admin)
	if rec.Code != 200 || none["total"] != float64(0) || none["total_capped"] != false {
		t.Errorf("empty list = %d total %v capped %v", rec.Code, none["total"], none["total_capped"])
	}
}

// TestSearchThroughTheLists: q on the three lists, with the filters and
// paging; a user finds only their own tickets and never an internal note;
// a bad q is a 422, a hostile one a 200.
func TestSearchThroughTheLists(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	e.create(t, p.ann, "The printer on floor 3 jams") // 1
	e.create(t, p.bob, "My printer shows error 42")   // 2
	vpn := e.create(t, p.ann, "VPN drops every hour") // 3
	comment := func(bearer, body string, internal bool) {
		t.Helper()
		if rec, c := e.do(t, "POST", fmt.Sprintf("/user_request/%d/comments", vpn), fmt.Sprintf(`{"body":%q,"internal":%v}`, body, internal), bearer); rec.Code != 201 {
			t.Fatalf("comment = %d %v", rec.Code, c)
		}
	}
	comment(p.admin, "Replaced the router next to the printer", false)
	comment(p.admin, "Router vendor owes us a refund", true)

	for _, tt := range []struct {
		name, path, bearer string
		want               []int64
	}{
		{"my: only mine, ranked, comments too", "/user_request/my?q=printer", p.ann, []int64{1, 3}},
		{"my: an internal note is never found by its owner", "/user_request/my?q=refund", p.ann, nil},
		{"my: a word of another user's ticket", "/user_request/my?q=error", p.ann, nil},
		{"staff: internal notes", "/staff/requests?unassigned=true&q=refund", p.staff, []int64{3}},
		{"admin: with a filter", "/admin/requests?q=printer&owner_id=4", p.admin, []int64{2}},
		{"admin: a phrase and an exclusion", `/admin/requests?q=` + url.QueryEscape(`"floor 3" -error`), p.admin, []int64{1}},
		{"admin: hostile syntax", "/admin/requests?q=" + url.QueryEscape(`!!(&|:*'\`), p.admin, nil},
		{"admin: paged (equal ranks: newest first)", "/admin/requests?q=printer&size=1&page=2", p.admin, []int64{1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, page := e.do(t, "GET", tt.path, "", tt.bearer)
			if rec.Code != 200 {
				t.Fatalf("= %d %v", rec.Code, page)
			}
			if got := ids(page); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("found %v, want %v", got, tt.want)
			}
		})
	}
	for _, page := range []string{"1", "9"} {
		if _, body := e.do(t, "GET", "/admin/requests?q=printer&page="+page, "", p.admin); body["total"] != float64(3) {
			t.Errorf("search page %s: total %v, want 3 (%v)", page, body["total"], body)
		}
	}
	for _, bad := range []string{strings.Repeat("x", 201), "printer\x00", "a\tb"} {
		rec, body := e.do(t, "GET", "/admin/requests?q="+url.QueryEscape(bad), "", p.admin)
		if rec.Code != 422 || !strings.Contains(fmt.Sprint(body["errors"]), "q") {
			t.Errorf("q=%.20q = %d %v, want 422 on q", bad, rec.Code, body)
		}
	}
}

package api_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestComments(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	id := e.create(t, p.ann, "thread")
	path := fmt.Sprintf("/user_request/%d/comments", id)

	steps := []struct {
		name, body, bearer string
		want               int
	}{
		{"owner", `{"body":"any news?"}`, p.ann, 201},
		{"staff reply", `{"body":"on it"}`, p.staff, 201},
		{"staff internal note", `{"body":"customer is VIP","internal":true}`, p.staff, 201},
		{"owner cannot write internal", `{"body":"x","internal":true}`, p.ann, 403},
		{"other user", `{"body":"x"}`, p.bob, 404},
		{"empty body", `{"body":"  "}`, p.ann, 422},
		{"missing body", `{}`, p.ann, 422},
	}
	for _, s := range steps {
		if rec, body := e.with(t, "POST", path, s.body, s.bearer); rec.Code != s.want {
			t.Fatalf("%s: = %d %v, want %d", s.name, rec.Code, body, s.want)
		}
	}
	count := func(bearer string) (int, []any) {
		rec, body := e.with(t, "GET", path, "", bearer)
		items, _ := body["items"].([]any)
		return rec.Code, items
	}
	if code, items := count(p.ann); code != 200 || len(items) != 2 {
		t.Errorf("owner sees %d comments (%d), want 2 without the internal note", len(items), code)
	}
	if code, items := count(p.staff); code != 200 || len(items) != 3 {
		t.Errorf("staff sees %d comments (%d), want 3", len(items), code)
	} else if a := items[1].(map[string]any)["author"].(map[string]any); a["email"] != "staff@company.com" {
		t.Errorf("author = %v", a)
	}
	if code, _ := count(p.bob); code != 404 {
		t.Errorf("other user reads the thread: %d", code)
	}
	if got := strings.Join(e.events(t), ","); got != "created,comment_added,comment_added,comment_added" {
		t.Errorf("events = %s", got)
	}
	// The staff reply was the first response.
	var responded bool
	if err := e.pool.QueryRow(t.Context(), `SELECT first_response_at IS NOT NULL FROM tickets.requests WHERE id = $1`, id).Scan(&responded); err != nil || !responded {
		t.Errorf("first response not recorded: %v %v", responded, err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	body := `{"text":"retry me"}`
	rec1, first := e.with(t, "POST", "/user_request/", body, p.ann, "Idempotency-Key", "k-1")
	rec2, second := e.with(t, "POST", "/user_request/", body, p.ann, "Idempotency-Key", "k-1")
	if rec1.Code != 201 || rec2.Code != 201 || first["id"] != second["id"] {
		t.Fatalf("retry = %d %v / %d %v; want the same ticket", rec1.Code, first["id"], rec2.Code, second["id"])
	}
	if rec, b := e.with(t, "POST", "/user_request/", `{"text":"something else"}`, p.ann, "Idempotency-Key", "k-1"); rec.Code != 422 {
		t.Errorf("same key, other body = %d %v", rec.Code, b)
	}
	// Keys belong to their actor: bob's k-1 is another request.
	if _, b := e.with(t, "POST", "/user_request/", body, p.bob, "Idempotency-Key", "k-1"); b["id"] == first["id"] {
		t.Error("bob's request replayed ann's ticket")
	}

	path := fmt.Sprintf("/user_request/%v/comments", first["id"])
	_, c1 := e.with(t, "POST", path, `{"body":"hello"}`, p.ann, "Idempotency-Key", "c-1")
	_, c2 := e.with(t, "POST", path, `{"body":"hello"}`, p.ann, "Idempotency-Key", "c-1")
	if c1["id"] == nil || c1["id"] != c2["id"] {
		t.Errorf("comment retry = %v / %v", c1["id"], c2["id"])
	}
	if rec, _ := e.with(t, "POST", path, `{"body":"bye"}`, p.ann, "Idempotency-Key", "c-1"); rec.Code != 422 {
		t.Errorf("comment key reuse = %d", rec.Code)
	}
	if got := strings.Join(e.events(t), ","); got != "created,created,comment_added" {
		t.Errorf("events = %s, want one per distinct request", got)
	}
}

package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// slaOf reads a ticket answer's sla object.
func slaOf(t *testing.T, tk map[string]any) map[string]any {
	t.Helper()
	s, ok := tk["sla"].(map[string]any)
	if !ok {
		t.Fatalf("no sla object in %v", tk)
	}
	return s
}

// timeOf reads a time of an answer; zero for null.
func timeOf(t *testing.T, v any) time.Time {
	t.Helper()
	if v == nil {
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339Nano, v.(string))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

func TestSLAClocks(t *testing.T) {
	e := setup(t)
	p := e.people(t)

	rec, tk := e.do(t, "POST", "/user_request/", `{"text":"Server down","priority":"urgent"}`, p.ann)
	if rec.Code != 201 {
		t.Fatalf("create = %d %v", rec.Code, tk)
	}
	id := int64(tk["id"].(float64))
	path := fmt.Sprintf("/user_request/%d", id)
	created := timeOf(t, tk["created_at"])
	s := slaOf(t, tk)
	if !timeOf(t, s["first_response_due_at"]).Equal(created.Add(time.Hour)) || !timeOf(t, s["resolution_due_at"]).Equal(created.Add(4*time.Hour)) ||
		s["first_response_at"] != nil || s["resolved_at"] != nil || s["first_response_breached"] != false || s["resolution_breached"] != false {
		t.Errorf("an urgent ticket's sla = %v (created %v), want due in 1 h and 4 h", s, created)
	}

	// The owner lowers the priority: the due times move, from the creation time.
	rec, tk = e.do(t, "PUT", path, `{"priority":"low"}`, p.ann)
	if s := slaOf(t, tk); rec.Code != 200 || !timeOf(t, s["first_response_due_at"]).Equal(created.Add(24*time.Hour)) ||
		!timeOf(t, s["resolution_due_at"]).Equal(created.Add(168*time.Hour)) {
		t.Errorf("after the change to low = %d %v", rec.Code, s)
	}

	// An internal note is no response; a public staff reply is.
	if rec, body := e.do(t, "POST", path+"/comments", `{"body":"checking the logs","internal":true}`, p.staff); rec.Code != 201 {
		t.Fatalf("note = %d %v", rec.Code, body)
	}
	if _, tk = e.do(t, "GET", path, "", p.ann); slaOf(t, tk)["first_response_at"] != nil {
		t.Errorf("an internal note counted as the first response: %v", slaOf(t, tk))
	}
	if rec, body := e.do(t, "POST", path+"/comments", `{"body":"on it"}`, p.staff); rec.Code != 201 {
		t.Fatalf("reply = %d %v", rec.Code, body)
	}
	_, tk = e.do(t, "GET", path, "", p.ann)
	if s := slaOf(t, tk); s["first_response_at"] == nil || s["first_response_breached"] != false {
		t.Errorf("after a staff reply in time: %v", s)
	}

	// Resolution: completed or closed; reopening clears it.
	status := func(to, bearer string) map[string]any {
		t.Helper()
		rec, tk := e.do(t, "PUT", fmt.Sprintf("/staff/requests/%d/status", id), `{"status":"`+to+`"}`, bearer)
		if rec.Code != 200 {
			t.Fatalf("status %s = %d %v", to, rec.Code, tk)
		}
		return slaOf(t, tk)
	}
	status("in_progress", p.staff)
	if s := status("completed", p.staff); s["resolved_at"] == nil || s["resolution_breached"] != false {
		t.Errorf("completed in time: %v", s)
	}
	if s := status("in_progress", p.staff); s["resolved_at"] != nil {
		t.Errorf("reopened, still resolved: %v", s)
	}
	if s := status("closed", p.staff); s["resolved_at"] == nil {
		t.Errorf("closed without completion is no resolution: %v", s)
	}

	// A due time that passed unmet shows at once, before the clock job marks it.
	other := e.create(t, p.bob, "Printer on fire")
	pgtest.Exec(t, e.pool, fmt.Sprintf(`UPDATE tickets.requests SET created_at = now() - interval '9 hours',
		first_response_due_at = now() - interval '1 hour' WHERE id = %d`, other))
	_, tk = e.do(t, "GET", fmt.Sprintf("/user_request/%d", other), "", p.bob)
	if s := slaOf(t, tk); s["first_response_breached"] != true || s["resolution_breached"] != false {
		t.Errorf("past its first-response due time: %v", s)
	}
	for query, want := range map[string][]float64{"breached": {float64(other)}, "ok": {float64(id)}, "at_risk": nil} {
		rec, page := e.do(t, "GET", "/admin/requests?sla="+query, "", p.admin)
		var got []float64
		for _, item := range page["items"].([]any) {
			got = append(got, item.(map[string]any)["id"].(float64))
			if _, ok := item.(map[string]any)["sla"]; !ok {
				t.Errorf("a list item without sla: %v", item)
			}
		}
		if rec.Code != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sla=%s = %d %v, want %v", query, rec.Code, got, want)
		}
	}
}

func TestSLAFilterRefusals(t *testing.T) {
	e := setup(t)
	p := e.people(t)
	for _, c := range []struct{ path, bearer string }{
		{"/admin/requests?sla=late", p.admin},
		{"/staff/requests?sla=", p.staff},
		{"/user_request/my?sla=breached", p.ann}, // a user's own list has no SLA filter
	} {
		rec, body := e.do(t, "GET", c.path, "", c.bearer)
		fields, _ := body["errors"].([]any)
		if rec.Code != 422 || len(fields) != 1 || fields[0].(map[string]any)["field"] != "sla" {
			t.Errorf("%s = %d %v, want 422 on sla", c.path, rec.Code, body)
		}
	}
	if rec, body := e.do(t, "GET", "/staff/requests?sla=at_risk", "", p.staff); rec.Code != 200 {
		t.Errorf("staff sla=at_risk = %d %v", rec.Code, body)
	}
}

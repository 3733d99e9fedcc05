package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// checkProblem checks that rec is a problem+json answer of status naming
// exactly fields.
func checkProblem(tb testing.TB, rec *httptest.ResponseRecorder, status int, fields []string) {
	tb.Helper()
	if rec.Code != status {
		tb.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		tb.Errorf("Content-Type = %q, want %s", ct, problem.ContentType)
	}
	var p problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		tb.Fatal(err)
	}
	var got []string
	for _, f := range p.Errors {
		got = append(got, f.Field)
	}
	if diff := cmp.Diff(fields, got); diff != "" {
		tb.Errorf("invalid fields (-want +got):\n%s", diff)
	}
}

// jsonEqual fails unless body and want are the same JSON value.
func jsonEqual(tb testing.TB, body []byte, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(body, &g); err != nil {
		tb.Fatalf("body %s: %v", body, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		tb.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestWhoMayRead(t *testing.T) {
	s := newServer(t)
	for _, path := range []string{"/admin/logs/api-logs", "/admin/logs/request-actions", "/admin/logs/events", "/admin/logs/stats"} {
		for _, tt := range []struct {
			who    string
			tok    string
			status int
		}{
			{"nobody", "", 401},
			{"bad token", "x.y.z", 401},
			{"user", s.user, 403},
			{"staff", s.staff, 403},
			{"admin", s.admin, 200},
		} {
			t.Run(path+" "+tt.who, func(t *testing.T) {
				for _, p := range []string{path, path + "/"} {
					rec := s.get(t, p, tt.tok)
					if rec.Code != tt.status {
						t.Errorf("GET %s = %d, want %d; body %s", p, rec.Code, tt.status, rec.Body)
					}
					if tt.status == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
						t.Errorf("GET %s: no Bearer challenge", p)
					}
				}
			})
		}
	}
}

func TestAPILogsParameters(t *testing.T) {
	tests := []struct {
		query string
		f     audit.CallFilter
		p     audit.Page
	}{
		{"", audit.CallFilter{HoursAgo: 24}, audit.Page{Number: 1, Size: 50}},
		{"?page=2&size=1000&method=delete&status_code=404&user_id=42&hours_ago=168",
			audit.CallFilter{Method: "DELETE", StatusCode: 404, UserID: 42, HoursAgo: 168}, audit.Page{Number: 2, Size: 1000}},
		{"?method=GET&hours_ago=1", audit.CallFilter{Method: "GET", HoursAgo: 1}, audit.Page{Number: 1, Size: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			s := newServer(t)
			if rec := s.get(t, "/admin/logs/api-logs"+tt.query, s.admin); rec.Code != 200 {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if diff := cmp.Diff([]audit.CallFilter{tt.f}, s.svc.callFilters); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]audit.Page{tt.p}, s.svc.pages); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPILogsRejects(t *testing.T) {
	for _, tt := range []struct {
		query  string
		fields []string
	}{
		{"?size=0", []string{"size"}},
		{"?size=1001", []string{"size"}},
		{"?method=FETCH", []string{"method"}},
		{"?status_code=abc", []string{"status_code"}},
		{"?status_code=99", []string{"status_code"}},
		{"?status_code=600", []string{"status_code"}},
		{"?user_id=0", []string{"user_id"}},
		{"?hours_ago=0", []string{"hours_ago"}},
		{"?hours_ago=169", []string{"hours_ago"}},
		{"?page=0&size=x&method=x&status_code=x&user_id=x&hours_ago=x", []string{"page", "size", "status_code", "user_id", "hours_ago", "method"}},
	} {
		t.Run(tt.query, func(t *testing.T) {
			s := newServer(t)
			checkProblem(t, s.get(t, "/admin/logs/api-logs"+tt.query, s.admin), 422, tt.fields)
			if s.svc.asked() {
				t.Error("a rejected request reached the service")
			}
		})
	}
}

func TestAPILogsResponse(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.FixedZone("X", 3600))
	s := newServer(t)
	s.svc.res = audit.Result{Counted: true, Total: 3, Entries: []audit.Entry{
		{
			EventID: "ev-1", Time: at, TraceID: "envelope-trace",
			Call: &audit.Call{Method: "GET", Route: "/user_request/:id", Path: "/user_request/7", StatusCode: 200,
				ProcessTime: 0.0125, IPAddress: "10.0.0.1", UserAgent: "curl/8", UserID: new(int64(42)), Role: "Admin",
				RequestID: "rq-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Count: 1},
		},
		{
			EventID: "ev-2", Time: at,
			Call: &audit.Call{Method: "POST", Route: "/auth/login", Path: "/auth/login", StatusCode: 401, ProcessTime: 0, Count: 1},
		},
		{
			EventID: "ev-3", Time: at, Type: "support.api.refused.v1",
			Call: &audit.Call{Method: "GET", Route: "/user_request/my", Path: "/user_request/my", StatusCode: 429, IPAddress: "10.0.0.9",
				Count: 1500, Aggregate: true},
		},
	}}
	rec := s.get(t, "/admin/logs/api-logs?size=3", s.admin)
	if rec.Code != 200 {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	jsonEqual(t, rec.Body.Bytes(), `{"items":[
		{"id":"ev-1","timestamp":"2026-03-14T14:09:26.535Z","method":"GET","path":"/user_request/7",
		 "route":"/user_request/:id","status_code":200,"process_time":0.0125,"ip_address":"10.0.0.1",
		 "user_agent":"curl/8","user_id":42,"role":"admin","request_id":"rq-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","count":1},
		{"id":"ev-2","timestamp":"2026-03-14T14:09:26.535Z","method":"POST","path":"/auth/login",
		 "route":"/auth/login","status_code":401,"process_time":0,"ip_address":null,
		 "user_agent":null,"user_id":null,"role":null,"request_id":null,"trace_id":null,"count":1},
		{"id":"ev-3","timestamp":"2026-03-14T14:09:26.535Z","method":"GET","path":"/user_request/my",
		 "route":"/user_request/my","status_code":429,"process_time":0,"ip_address":"10.0.0.9",
		 "user_agent":null,"user_id":null,"role":null,"request_id":null,"trace_id":null,"count":1500}
		],"total":3,"total_capped":false,"page":1,"size":3,"pages":1,"next_cursor":null}`)
}

func TestEventsParameters(t *testing.T) {
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		query string
		f     audit.EventFilter
		p     audit.Page
	}{
		{"", audit.EventFilter{}, audit.Page{Number: 1, Size: 50}},
		{"?type=support.user.registered.v1&subject=USR000001&actor_id=7&since=2026-03-01T00:00:00Z&until=2026-03-02T01:00:00%2B01:00&page=3&size=10",
			audit.EventFilter{Type: "support.user.registered.v1", Subject: "USR000001", ActorID: "7",
				Since: since, Until: time.Date(2026, 3, 2, 1, 0, 0, 0, time.FixedZone("", 3600))},
			audit.Page{Number: 3, Size: 10}},
		{"?since=2026-03-01T00:00:00.123456Z", audit.EventFilter{Since: since.Add(123456 * time.Microsecond)}, audit.Page{Number: 1, Size: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			s := newServer(t)
			if rec := s.get(t, "/admin/logs/events"+tt.query, s.admin); rec.Code != 200 {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if len(s.svc.eventFilters) != 1 {
				t.Fatalf("filters = %+v", s.svc.eventFilters)
			}
			got := s.svc.eventFilters[0]
			if got.Type != tt.f.Type || got.Subject != tt.f.Subject || got.ActorID != tt.f.ActorID ||
				!got.Since.Equal(tt.f.Since) || !got.Until.Equal(tt.f.Until) {
				t.Errorf("filter = %+v, want %+v", got, tt.f)
			}
			if diff := cmp.Diff([]audit.Page{tt.p}, s.svc.pages); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventsRejects(t *testing.T) {
	for _, tt := range []struct {
		query  string
		fields []string
	}{
		{"?since=yesterday", []string{"since"}},
		{"?until=2026-03-01", []string{"until"}},
		{"?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", []string{"until"}},
		{"?size=0&since=x&until=y", []string{"size", "since", "until"}},
	} {
		t.Run(tt.query, func(t *testing.T) {
			s := newServer(t)
			checkProblem(t, s.get(t, "/admin/logs/events"+tt.query, s.admin), 422, tt.fields)
			if s.svc.asked() {
				t.Error("a rejected request reached the service")
			}
		})
	}
}

func TestEventsResponse(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	s := newServer(t)
	s.svc.res = audit.Result{Counted: true, Total: 2, Entries: []audit.Entry{
		{EventID: "ev-1", Type: "support.user.registered.v1", Source: "/services/auth", Subject: "USR000007", Time: at,
			ActorID: "7", ActorRole: "user", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Data: json.RawMessage(`{"user":{"id":7}}`)},
		{EventID: "ev-2", Type: "support.user.login_failed.v1", Source: "/services/auth", Time: at, Data: json.RawMessage(`{"email":"a@b.c"}`)},
	}}
	rec := s.get(t, "/admin/logs/events", s.admin)
	if rec.Code != 200 {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	jsonEqual(t, rec.Body.Bytes(), `{"items":[
		{"id":"ev-1","type":"support.user.registered.v1","source":"/services/auth","subject":"USR000007",
		 "time":"2026-03-14T15:09:26.535Z","actor_id":"7","actor_role":"user",
		 "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","data":{"user":{"id":7}}},
		{"id":"ev-2","type":"support.user.login_failed.v1","source":"/services/auth","subject":null,
		 "time":"2026-03-14T15:09:26.535Z","actor_id":null,"actor_role":null,"trace_id":null,"data":{"email":"a@b.c"}}
		],"total":2,"total_capped":false,"page":1,"size":50,"pages":1,"next_cursor":null}`)
}

func TestStats(t *testing.T) {
	s := newServer(t)
	s.svc.stats = audit.Stats{
		PeriodHours: 48,
		Counts: audit.Counts{Total: 14, Calls: 10, Actions: 7,
			ByStatusClass: map[string]int64{"2xx": 6, "3xx": 1, "4xx": 2, "5xx": 1},
			ByAction:      map[string]int64{"view_request": 2, "create_request": 1}},
		LatencyP50: new(0.08), LatencyP95: new(1.5),
	}
	rec := s.get(t, "/admin/logs/stats?hours_ago=48&page=0", s.admin) // paging does not apply here
	if rec.Code != 200 {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	jsonEqual(t, rec.Body.Bytes(), `{"period_hours":48,"api_requests":10,"request_actions":7,"total_logs":14,
		"by_status_class":{"2xx":6,"3xx":1,"4xx":2,"5xx":1},"by_action":{"view_request":2,"create_request":1},
		"latency_p50":0.08,"latency_p95":1.5}`)
	if diff := cmp.Diff([]int{48}, s.svc.hours); diff != "" {
		t.Errorf("hours (-want +got):\n%s", diff)
	}

	s = newServer(t)
	s.get(t, "/admin/logs/stats", s.admin)
	if diff := cmp.Diff([]int{24}, s.svc.hours); diff != "" {
		t.Errorf("default hours (-want +got):\n%s", diff)
	}
	s.svc.stats = audit.Stats{PeriodHours: 1}
	rec = s.get(t, "/admin/logs/stats?hours_ago=1", s.admin)
	jsonEqual(t, rec.Body.Bytes(), `{"period_hours":1,"api_requests":0,"request_actions":0,"total_logs":0,
		"by_status_class":null,"by_action":null,"latency_p50":null,"latency_p95":null}`)

	for _, q := range []string{"?hours_ago=0", "?hours_ago=169", "?hours_ago=x"} {
		t.Run(q, func(t *testing.T) {
			s := newServer(t)
			checkProblem(t, s.get(t, "/admin/logs/stats"+q, s.admin), 422, []string{"hours_ago"})
			if s.svc.asked() {
				t.Error("a rejected request reached the service")
			}
		})
	}
	t.Run("database down", func(t *testing.T) {
		s := newServer(t)
		s.svc.err = &fault.Error{Kind: fault.Unavailable, Code: "database_unavailable", Detail: "down"}
		checkProblem(t, s.get(t, "/admin/logs/stats", s.admin), 503, nil)
	})
}

package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/api"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// fakeService answers with a fixed result and records what it was asked.
// Like the real service, it refuses a query out of bounds (with the
// domain's validation) and then records nothing: asked tells whether a
// query would have run.
type fakeService struct {
	filters      []audit.Filter
	callFilters  []audit.CallFilter
	eventFilters []audit.EventFilter
	hours        []int
	pages        []audit.Page
	res          audit.Result
	stats        audit.Stats
	err          error
}

func (s *fakeService) RequestActions(_ context.Context, f audit.Filter, p audit.Page) (audit.Result, error) {
	if fields := audit.Validate(f, p); len(fields) > 0 {
		return audit.Result{}, fault.Fields(fields...)
	}
	s.filters = append(s.filters, f)
	s.pages = append(s.pages, p)
	return s.res, s.err
}

func (s *fakeService) APILogs(_ context.Context, f audit.CallFilter, p audit.Page) (audit.Result, error) {
	if fields := audit.ValidateCalls(f, p); len(fields) > 0 {
		return audit.Result{}, fault.Fields(fields...)
	}
	s.callFilters = append(s.callFilters, f)
	s.pages = append(s.pages, p)
	return s.res, s.err
}

func (s *fakeService) Events(_ context.Context, f audit.EventFilter, p audit.Page) (audit.Result, error) {
	if fields := audit.ValidateEvents(f, p); len(fields) > 0 {
		return audit.Result{}, fault.Fields(fields...)
	}
	s.eventFilters = append(s.eventFilters, f)
	s.pages = append(s.pages, p)
	return s.res, s.err
}

func (s *fakeService) Stats(_ context.Context, hours int) (audit.Stats, error) {
	if fields := audit.ValidateHours(hours); len(fields) > 0 {
		return audit.Stats{}, fault.Fields(fields...)
	}
	s.hours = append(s.hours, hours)
	return s.stats, s.err
}

// asked reports whether the service was asked anything.
func (s *fakeService) asked() bool {
	return len(s.filters)+len(s.callFilters)+len(s.eventFilters)+len(s.hours) > 0
}

type server struct {
	handler http.Handler
	svc     *fakeService
	admin   string
	staff   string
	user    string
}

func newServer(tb testing.TB) *server {
	tb.Helper()
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &fakeService{}
	e := web.NewEngine(logger, prometheus.NewRegistry())
	api.Routes(e, svc, tm, api.Limits{Concurrent: 4, Timeout: 5 * time.Second}, logger)
	issue := func(role access.Role) string {
		tok, _, err := tm.Issue(1, role, "session-1")
		if err != nil {
			tb.Fatal(err)
		}
		return tok
	}
	return &server{handler: e, svc: svc, admin: issue(access.RoleAdmin), staff: issue(access.RoleStaff), user: issue(access.RoleUser)}
}

func (s *server) get(tb testing.TB, path, tok string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

func TestRequestActionsRejects(t *testing.T) {
	s := newServer(t)
	const path = "/admin/logs/request-actions"
	tests := []struct {
		name   string
		query  string
		tok    func(*server) string
		status int
		fields []string
	}{
		{"no token", "", func(*server) string { return "" }, 401, nil},
		{"bad token", "", func(*server) string { return "not.a.jwt" }, 401, nil},
		{"user", "", func(s *server) string { return s.user }, 403, nil},
		{"staff", "", func(s *server) string { return s.staff }, 403, nil},
		{"size 0", "?size=0", nil, 422, []string{"size"}},
		{"size 1001", "?size=1001", nil, 422, []string{"size"}},
		{"size not a number", "?size=ten", nil, 422, []string{"size"}},
		{"page 0", "?page=0", nil, 422, []string{"page"}},
		{"page negative", "?page=-1", nil, 422, []string{"page"}},
		{"hours_ago 0", "?hours_ago=0", nil, 422, []string{"hours_ago"}},
		{"hours_ago 500", "?hours_ago=500", nil, 422, []string{"hours_ago"}},
		{"request_id 0", "?request_id=0", nil, 422, []string{"request_id"}},
		{"request_id display form", "?request_id=REQ000001", nil, 422, []string{"request_id"}},
		{"user_id negative", "?user_id=-4", nil, 422, []string{"user_id"}},
		{"user_id too big", "?user_id=99999999999999999999", nil, 422, []string{"user_id"}},
		{"unknown action", "?action=drop", nil, 422, []string{"action"}},
		{"empty values", "?page=&size=&hours_ago=&request_id=", nil, 422, []string{"page", "size", "request_id", "hours_ago"}},
		{"every error at once", "?page=x&size=0&request_id=a&user_id=0&action=b&hours_ago=169", nil, 422,
			[]string{"page", "size", "request_id", "user_id", "action", "hours_ago"}},
		{"page past the first 10000 entries", "?page=201&size=50", nil, 422, []string{"page"}},
		{"not a cursor", "?cursor=!!", nil, 422, []string{"cursor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := s.admin
			if tt.tok != nil {
				tok = tt.tok(s)
			}
			rec := s.get(t, path+tt.query, tok)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type = %q, want %s", ct, problem.ContentType)
			}
			var p problem.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff(tt.fields, fields); diff != "" {
				t.Errorf("invalid fields (-want +got):\n%s", diff)
			}
		})
	}
	if len(s.svc.filters) != 0 {
		t.Errorf("a rejected request reached the service: %+v", s.svc.filters)
	}
}

func TestRequestActionsParameters(t *testing.T) {
	tests := []struct {
		query string
		f     audit.Filter
		p     audit.Page
	}{
		{"", audit.Filter{HoursAgo: 24}, audit.Page{Number: 1, Size: 50}},
		{"?page=3&size=1000&request_id=7&user_id=42&action=create_request&hours_ago=168",
			audit.Filter{RequestID: 7, UserID: 42, Action: "create_request", HoursAgo: 168}, audit.Page{Number: 3, Size: 1000}},
		{"?size=1&hours_ago=1&unknown=x", audit.Filter{HoursAgo: 1}, audit.Page{Number: 1, Size: 1}},
		{"?size=5&cursor=" + audit.Cursor{Time: time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), EventID: "ev-9"}.String(),
			audit.Filter{HoursAgo: 24}, audit.Page{Number: 1, Size: 5, After: &audit.Cursor{Time: time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), EventID: "ev-9"}}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			s := newServer(t)
			if rec := s.get(t, "/admin/logs/request-actions"+tt.query, s.admin); rec.Code != 200 {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if diff := cmp.Diff([]audit.Filter{tt.f}, s.svc.filters); diff != "" {
				t.Errorf("filter (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]audit.Page{tt.p}, s.svc.pages); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestActionsResponse(t *testing.T) {
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.FixedZone("X", 3600))
	tests := []struct {
		name  string
		query string
		res   audit.Result
		want  string
	}{
		{
			name:  "empty",
			query: "?size=10",
			res:   audit.Result{Counted: true},
			want:  `{"items":[],"total":0,"total_capped":false,"page":1,"size":10,"pages":0,"next_cursor":null}`,
		},
		{
			name:  "one ticket change and one system action",
			query: "?page=2&size=2",
			res: audit.Result{Counted: true, Total: 5, Next: &audit.Cursor{Time: at, EventID: "ev-2"}, Entries: []audit.Entry{
				{
					EventID: "ev-1", Type: "support.ticket.created.v1", Subject: "REQ000007", Time: at,
					ActorID: "42", ActorRole: "User", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
					Action: "create_request", RequestID: 7,
					Data: json.RawMessage(`{"before":null,"after":{"id":7,"status":"new"}}`),
				},
				{
					EventID: "ev-2", Type: "support.ticket.escalated.v1", Subject: "REQ000008", Time: at,
					Action: "change_status", Data: json.RawMessage(`{"reason":"sla"}`),
				},
			}},
			want: `{"items":[
				{"id":"ev-1","timestamp":"2026-03-14T14:09:26.535Z","action":"create_request",
				 "event_type":"support.ticket.created.v1","request_id":7,"user_id":42,"role":"user",
				 "subject":"REQ000007","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",
				 "before":null,"after":{"id":7,"status":"new"}},
				{"id":"ev-2","timestamp":"2026-03-14T14:09:26.535Z","action":"change_status",
				 "event_type":"support.ticket.escalated.v1","request_id":null,"user_id":null,"role":null,
				 "subject":"REQ000008","trace_id":null,"before":null,"after":null}
				],"total":5,"total_capped":false,"page":2,"size":2,"pages":3,
				"next_cursor":"` + audit.Cursor{Time: at, EventID: "ev-2"}.String() + `"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.svc.res = tt.res
			for _, path := range []string{"/admin/logs/request-actions", "/admin/logs/request-actions/"} {
				rec := s.get(t, path+tt.query, s.admin)
				if rec.Code != 200 {
					t.Fatalf("GET %s = %d; body %s", path, rec.Code, rec.Body)
				}
				var got, want any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("GET %s body (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}

func TestRequestActionsServiceErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"database down", &fault.Error{Kind: fault.Unavailable, Code: "database_unavailable", Detail: "down"}, 503},
		{"connection to the store cut short", io.ErrUnexpectedEOF, 503},
		{"unexpected", errors.New("a bug"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.svc.err = tt.err
			rec := s.get(t, "/admin/logs/request-actions", s.admin)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if strings.Contains(rec.Body.String(), "unexpected EOF") {
				t.Errorf("internal error text leaked: %s", rec.Body)
			}
		})
	}
}

// TestEveryRouteNeedsAToken walks the engine's own route list: a route added
// without authentication fails here.
func TestEveryRouteNeedsAToken(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := web.NewEngine(logger, prometheus.NewRegistry())
	api.Routes(e, &fakeService{}, tm, api.Limits{Concurrent: 4, Timeout: 5 * time.Second}, logger)
	var checked int
	for _, r := range e.Routes() {
		if r.Path == "/metrics" {
			continue
		}
		checked++
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(r.Method, r.Path, nil))
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("= %d, want 401", rec.Code)
			}
		})
	}
	if checked == 0 {
		t.Fatal("no routes registered")
	}
}

// TestPageEnvelope: a page past the count bound says so, and a page
// reached by cursor is not counted.
func TestPageEnvelope(t *testing.T) {
	s := newServer(t)
	s.svc.res = audit.Result{Counted: true, Total: audit.CountLimit, Capped: true}
	jsonEqual(t, s.get(t, "/admin/logs/events?size=1000", s.admin).Body.Bytes(),
		`{"items":[],"total":10000,"total_capped":true,"page":1,"size":1000,"pages":10,"next_cursor":null}`)
	s.svc.res = audit.Result{}
	cursor := audit.Cursor{Time: time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), EventID: "ev-9"}.String()
	jsonEqual(t, s.get(t, "/admin/logs/api-logs?size=3&cursor="+cursor, s.admin).Body.Bytes(),
		`{"items":[],"total":null,"total_capped":false,"page":1,"size":3,"pages":null,"next_cursor":null}`)
}

// blockingService holds every query until released, to fill the turns.
type blockingService struct {
	fakeService
	started chan struct{}
	release chan struct{}
	ctxErr  chan error
}

func (s *blockingService) Events(ctx context.Context, f audit.EventFilter, p audit.Page) (audit.Result, error) {
	s.started <- struct{}{}
	<-s.release
	s.ctxErr <- ctx.Err()
	return audit.Result{Counted: true}, nil
}

// TestQueriesAreBounded: at most Concurrent queries run at once, one more
// waits for a turn within its deadline and then gets 503, and a query
// that outlives its deadline sees its context end (the stores pass it to
// the database, which stops the query).
func TestQueriesAreBounded(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &blockingService{started: make(chan struct{}, 4), release: make(chan struct{}), ctxErr: make(chan error, 4)}
	e := web.NewEngine(logger, prometheus.NewRegistry())
	api.Routes(e, svc, tm, api.Limits{Concurrent: 2, Timeout: 300 * time.Millisecond}, logger)
	tok, _, err := tm.Issue(1, access.RoleAdmin, "s")
	if err != nil {
		t.Fatal(err)
	}
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/admin/logs/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	results := make(chan *httptest.ResponseRecorder, 3)
	for range 2 {
		go func() { results <- get() }()
	}
	<-svc.started
	<-svc.started
	third := get() // no turn within its 300 ms
	if third.Code != http.StatusServiceUnavailable || third.Header().Get("Retry-After") == "" {
		t.Errorf("third query = %d (Retry-After %q), want 503 with Retry-After; body %s", third.Code, third.Header().Get("Retry-After"), third.Body)
	}
	time.Sleep(100 * time.Millisecond) // the first two are well past their deadline
	for range 2 {
		svc.release <- struct{}{}
		<-results
		if err := <-svc.ctxErr; err != context.DeadlineExceeded {
			t.Errorf("query context = %v past its deadline, want it ended", err)
		}
	}
	// The turns are free again.
	go func() { svc.release <- struct{}{} }()
	if rec := get(); rec.Code != 200 {
		t.Errorf("query after the others = %d, want 200", rec.Code)
	}
	if err := <-svc.ctxErr; err != nil {
		t.Errorf("a query within its deadline saw %v", err)
	}
}

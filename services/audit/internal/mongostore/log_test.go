package mongostore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

func ptr[T any](v T) *T { return &v }

// minutesAgo is base minus n minutes.
func minutesAgo(n int) time.Time { return base.Add(-time.Duration(n) * time.Minute) }

// fromEvent derives an entry the way the consumer does.
func fromEvent(tb testing.TB, id, typ, subject, actor, role string, at time.Time, data any) audit.Entry {
	tb.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		tb.Fatal(err)
	}
	source := events.SourceTickets
	if typ == events.TypeAPIRequest {
		source = events.SourceGateway
	}
	e, err := audit.NewEntry(events.Event{
		SpecVersion: events.SpecVersion, ID: id, Source: source, Type: typ, Subject: subject, Time: at,
		DataContentType: "application/json", Data: raw, ActorID: actor, ActorRole: role,
	}, at)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// call is an API call event's entry; user 0 is an anonymous call.
func call(tb testing.TB, id string, at time.Time, method, route, path string, status int, seconds float64, user int64, role string) audit.Entry {
	tb.Helper()
	c := events.APIRequest{
		Method: method, Route: route, Path: path, StatusCode: status, ProcessTime: seconds,
		IPAddress: "10.0.0.1", UserAgent: "test", Role: role, RequestID: "rq-" + id, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
	}
	var actor string
	if user != 0 {
		c.UserID = &user
		actor = strconv.FormatInt(user, 10)
	}
	return fromEvent(tb, id, events.TypeAPIRequest, path, actor, role, at, c)
}

func ticketChange(tb testing.TB, id, typ string, ticket int64, actor, role string, at time.Time) audit.Entry {
	tb.Helper()
	t := events.Ticket{ID: ticket, DisplayID: fmt.Sprintf("REQ%06d", ticket), Status: "new"}
	return fromEvent(tb, id, typ, t.DisplayID, actor, role, at, events.TicketChanged{Before: &t, After: &t})
}

// seedLog stores a small log whose every count is worked out by hand in the
// tests below. "Now" is base.
//
// API calls in the last 24 hours (id: method path -> status, seconds, user):
//
//	c01 GET /user_request/REQ000001 -> 200, 0.050, 10  view_request of 1
//	c02 GET /user_request/my        -> 200, 0.020, 10  view_my_requests
//	c03 GET /staff/requests         -> 200, 0.300, 20  list_assigned_requests
//	c04 GET /user_request/2         -> 404, 0.010, 10
//	c05 POST /user_request/         -> 201, 0.120, 10
//	c06 PUT /user_request/1         -> 500, 1.500, 10
//	c07 GET /auth/profile           -> 304, 0.005, 10
//	c08 POST /auth/login            -> 401, 0.200, anonymous
//	c09 GET /user_request/REQ000002 -> 200, 0.080, 20  view_request of 2 (same time as c10)
//	c10 DELETE /user_request/3      -> 200, 0.090, 10
//
// and c11, 30 hours ago. Other events: t1 created (1, by 10), t2
// status_changed (1, by 20), t3 comment_added (2, by 10), u1
// user.registered (by "svc-auth"), and t4 created 25 hours ago (3, by 10).
func seedLog(tb testing.TB, ctx context.Context, s *mongostore.Store) {
	tb.Helper()
	save(tb, ctx, s,
		call(tb, "c01", minutesAgo(1), "GET", "/user_request/:id", "/user_request/REQ000001", 200, 0.050, 10, "user"),
		call(tb, "c02", minutesAgo(2), "GET", "/user_request/my", "/user_request/my", 200, 0.020, 10, "user"),
		call(tb, "c03", minutesAgo(3), "GET", "/staff/requests", "/staff/requests", 200, 0.300, 20, "Staff"),
		call(tb, "c04", minutesAgo(4), "GET", "/user_request/:id", "/user_request/2", 404, 0.010, 10, "user"),
		call(tb, "c05", minutesAgo(5), "POST", "/user_request/", "/user_request/", 201, 0.120, 10, "user"),
		call(tb, "c06", minutesAgo(6), "PUT", "/user_request/:id", "/user_request/1", 500, 1.500, 10, "user"),
		call(tb, "c07", minutesAgo(7), "GET", "/auth/profile", "/auth/profile", 304, 0.005, 10, "user"),
		call(tb, "c08", minutesAgo(8), "POST", "/auth/login", "/auth/login", 401, 0.200, 0, ""),
		call(tb, "c09", minutesAgo(9), "GET", "/user_request/:id", "/user_request/REQ000002", 200, 0.080, 20, "staff"),
		call(tb, "c10", minutesAgo(9), "DELETE", "/user_request/:id", "/user_request/3", 200, 0.090, 10, "user"),
		call(tb, "c11", minutesAgo(30*60), "GET", "/user_request/my", "/user_request/my", 200, 9.000, 10, "user"),
		ticketChange(tb, "t1", events.TypeTicketCreated, 1, "10", "user", minutesAgo(20)),
		ticketChange(tb, "t2", events.TypeTicketStatusChanged, 1, "20", "staff", minutesAgo(30)),
		ticketChange(tb, "t3", events.TypeTicketCommentAdded, 2, "10", "user", minutesAgo(40)),
		fromEvent(tb, "u1", events.TypeUserRegistered, "USR000030", "svc-auth", "", minutesAgo(50), events.UserRegistered{User: events.User{ID: 30}}),
		ticketChange(tb, "t4", events.TypeTicketCreated, 3, "10", "user", minutesAgo(25*60)),
	)
}

func ids(entries []audit.Entry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.EventID)
	}
	return out
}

func TestCalls(t *testing.T) {
	ctx, s, _ := newStore(t)
	seedLog(t, ctx, s)
	day := base.Add(-24 * time.Hour)
	tests := []struct {
		name  string
		q     audit.CallQuery
		want  []string
		total int64
	}{
		{"last day, newest first, time ties by id descending", audit.CallQuery{Since: day, Limit: 50},
			[]string{"c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c10", "c09"}, 10},
		{"two days", audit.CallQuery{Since: base.Add(-48 * time.Hour), Limit: 50},
			[]string{"c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c10", "c09", "c11"}, 11},
		{"last page", audit.CallQuery{Since: day, Offset: 8, Limit: 5}, []string{"c10", "c09"}, 10},
		{"by method", audit.CallQuery{Since: day, Method: "GET", Limit: 50}, []string{"c01", "c02", "c03", "c04", "c07", "c09"}, 6},
		{"by status", audit.CallQuery{Since: day, StatusCode: 200, Limit: 50}, []string{"c01", "c02", "c03", "c10", "c09"}, 5},
		{"by user", audit.CallQuery{Since: day, ActorID: 20, Limit: 50}, []string{"c03", "c09"}, 2},
		{"every filter", audit.CallQuery{Since: day, Method: "GET", StatusCode: 200, ActorID: 10, Limit: 50}, []string{"c01", "c02"}, 2},
		{"last 5 minutes", audit.CallQuery{Since: minutesAgo(5), Limit: 50}, []string{"c01", "c02", "c03", "c04", "c05"}, 5},
		{"nothing", audit.CallQuery{Since: day, StatusCode: 418, Limit: 50}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.Calls(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if total != tt.total {
				t.Errorf("total = %d, want %d", total, tt.total)
			}
		})
	}

	// The call reads back whole.
	got, _, err := s.Calls(ctx, audit.CallQuery{Since: minutesAgo(3), ActorID: 20, Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("Calls = %v, %v", got, err)
	}
	want := &audit.Call{Method: "GET", Route: "/staff/requests", Path: "/staff/requests", StatusCode: 200, ProcessTime: 0.3,
		IPAddress: "10.0.0.1", UserAgent: "test", UserID: ptr(int64(20)), Role: "Staff", RequestID: "rq-c03", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
	if diff := cmp.Diff(want, got[0].Call); diff != "" {
		t.Errorf("call read back (-want +got):\n%s", diff)
	}
	if got[0].Action != audit.ActionListAssignedRequests || got[0].ActorID != "20" {
		t.Errorf("action %q, actor %q", got[0].Action, got[0].ActorID)
	}
}

func TestRequestActionsIncludeReads(t *testing.T) {
	ctx, s, _ := newStore(t)
	seedLog(t, ctx, s)
	day := base.Add(-24 * time.Hour)
	tests := []struct {
		name string
		q    audit.ActionQuery
		want []string
	}{
		{"every action of the day", audit.ActionQuery{Since: day, Limit: 50}, []string{"c01", "c02", "c03", "c09", "t1", "t2", "t3"}},
		{"views", audit.ActionQuery{Since: day, Action: audit.ActionViewRequest, Limit: 50}, []string{"c01", "c09"}},
		{"one ticket, read and changed", audit.ActionQuery{Since: day, RequestID: 1, Limit: 50}, []string{"c01", "t1", "t2"}},
		{"one user", audit.ActionQuery{Since: day, ActorID: 20, Limit: 50}, []string{"c03", "c09", "t2"}},
		{"no time bound", audit.ActionQuery{ActorID: 10, Action: audit.ActionViewMyRequests, Limit: 50}, []string{"c02", "c11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.RequestActions(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if total != int64(len(tt.want)) {
				t.Errorf("total = %d, want %d", total, len(tt.want))
			}
		})
	}
}

func TestEvents(t *testing.T) {
	ctx, s, _ := newStore(t)
	seedLog(t, ctx, s)
	tests := []struct {
		name string
		q    audit.EventQuery
		want []string
	}{
		{"every event but API calls", audit.EventQuery{ExcludeType: events.TypeAPIRequest, Limit: 50}, []string{"t1", "t2", "t3", "u1", "t4"}},
		{"by type", audit.EventQuery{Type: events.TypeTicketCreated, Limit: 50}, []string{"t1", "t4"}},
		{"API calls when asked", audit.EventQuery{Type: events.TypeAPIRequest, Since: minutesAgo(3), Limit: 50}, []string{"c01", "c02", "c03"}},
		{"by subject", audit.EventQuery{Subject: "REQ000001", ExcludeType: events.TypeAPIRequest, Limit: 50}, []string{"t1", "t2"}},
		{"by user actor", audit.EventQuery{ActorID: "10", ExcludeType: events.TypeAPIRequest, Limit: 50}, []string{"t1", "t3", "t4"}},
		{"by other actor", audit.EventQuery{ActorID: "svc-auth", Limit: 50}, []string{"u1"}},
		{"between, until exclusive", audit.EventQuery{Since: minutesAgo(30), Until: minutesAgo(20), Limit: 50}, []string{"t2"}},
		{"between, since inclusive", audit.EventQuery{Since: minutesAgo(30), Until: minutesAgo(19), ExcludeType: events.TypeAPIRequest, Limit: 50}, []string{"t1", "t2"}},
		{"paged", audit.EventQuery{ExcludeType: events.TypeAPIRequest, Offset: 1, Limit: 2}, []string{"t2", "t3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.Events(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if tt.q.Offset == 0 && total != int64(len(tt.want)) {
				t.Errorf("total = %d, want %d", total, len(tt.want))
			}
		})
	}
	got, total, err := s.Events(ctx, audit.EventQuery{ExcludeType: events.TypeAPIRequest, Offset: 1, Limit: 2})
	if err != nil || total != 5 || len(got) != 2 {
		t.Errorf("paged events = %d of %d (err %v), want 2 of 5", len(got), total, err)
	}
}

// TestStats checks the statistics on FerretDB against the counts worked out
// by hand from seedLog.
func TestStats(t *testing.T) {
	ctx, s, _ := newStore(t)
	seedLog(t, ctx, s)
	got, err := audit.NewService(s, func() time.Time { return base }).Stats(ctx, 24)
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Stats{
		PeriodHours: 24,
		Counts: audit.Counts{
			Total:         14, // c01-c10, t1-t3, u1
			Calls:         10, // c01-c10
			Actions:       7,  // c01 c02 c03 c09 t1 t2 t3
			ByStatusClass: map[string]int64{"2xx": 6, "3xx": 1, "4xx": 2, "5xx": 1},
			ByAction: map[string]int64{
				"create_request": 1, "view_request": 2, "view_my_requests": 1, "list_assigned_requests": 1,
				"update_request": 0, "delete_request": 0, "change_status": 1, "assign_request": 0, "add_comment": 1,
			},
		},
		// Sorted times: .005 .010 .020 .050 .080 .090 .120 .200 .300 1.5;
		// p50 is the 5th (ceil(0.5*10)), p95 the 10th (ceil(0.95*10)).
		LatencyP50: ptr(0.080),
		LatencyP95: ptr(1.5),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}

	// Over two days c11 (9s) and t4 join: 11 calls, p50 the 6th, p95 the
	// 11th.
	got, err = audit.NewService(s, func() time.Time { return base }).Stats(ctx, 48)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 16 || got.Calls != 11 || got.Actions != 9 || got.ByStatusClass["2xx"] != 7 ||
		got.ByAction["view_my_requests"] != 2 || got.ByAction["create_request"] != 2 ||
		*got.LatencyP50 != 0.090 || *got.LatencyP95 != 9.0 {
		t.Errorf("two days: %+v p50 %v p95 %v", got.Counts, *got.LatencyP50, *got.LatencyP95)
	}

	// An empty period.
	got, err = audit.NewService(s, func() time.Time { return base.Add(240 * time.Hour) }).Stats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 0 || got.Calls != 0 || got.LatencyP50 != nil || got.LatencyP95 != nil || got.ByAction["view_request"] != 0 {
		t.Errorf("empty period: %+v", got)
	}
}

func TestProcessTimeAt(t *testing.T) {
	ctx, s, _ := newStore(t)
	seedLog(t, ctx, s)
	day := base.Add(-24 * time.Hour)
	for _, tt := range []struct {
		rank int64
		want float64
		ok   bool
	}{
		{1, 0.005, true}, {2, 0.010, true}, {9, 0.300, true}, {10, 1.5, true}, {11, 0, false}, {0, 0, false},
	} {
		got, ok, err := s.ProcessTimeAt(ctx, day, tt.rank)
		if err != nil || got != tt.want || ok != tt.ok {
			t.Errorf("ProcessTimeAt(rank %d) = %v, %v, %v; want %v, %v", tt.rank, got, ok, err, tt.want, tt.ok)
		}
	}
}

// Package storetest is the conformance suite of audit.Store: every store
// (MongoDB, PostgreSQL) runs it against a real server, so that the logs
// answer alike whichever keeps them. The expected answers are worked out by
// hand from a small log (Seed).
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/ids"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// Store is what the suite needs of a store: audit.Store and the purge.
type Store interface {
	audit.Store
	audit.Expirer
}

// Harness opens stores for the suite.
type Harness struct {
	// New returns an empty store, ready to use, of its own.
	New func(t *testing.T) Store
	// Refused returns an entry the store refuses for good: SaveBatch must
	// fail it alone, with ErrInvalidEvent.
	Refused func(id string) audit.Entry
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Run("SaveBatch", func(t *testing.T) { testSaveBatch(t, h) })
	t.Run("ActorIDs", func(t *testing.T) { testActorIDs(t, h) })
	t.Run("RequestActions", func(t *testing.T) { testRequestActions(t, h) })
	t.Run("Calls", func(t *testing.T) { testCalls(t, h) })
	t.Run("Events", func(t *testing.T) { testEvents(t, h) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, h) })
	t.Run("Stats", func(t *testing.T) { testStats(t, h) })
	t.Run("Rollups", func(t *testing.T) { testRollups(t, h) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, h) })
}

// Base is a fixed instant with millisecond precision, the precision of a
// BSON date, so that times survive a round trip through any store.
var Base = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func minutesAgo(n int) time.Time { return Base.Add(-time.Duration(n) * time.Minute) }

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Entry is a ticket event's entry, as the consumer would derive it.
func Entry(id, action string, requestID int64, actor string, at time.Time) audit.Entry {
	return audit.Entry{
		EventID:    id,
		Type:       events.TypeTicketCreated,
		Source:     events.SourceTickets,
		Subject:    ids.Display(ids.Request, requestID),
		Time:       at,
		ActorID:    actor,
		ActorRole:  "user",
		TraceID:    "4bf92f3577b34da6a3ce929d0e0e4736",
		Action:     action,
		RequestID:  requestID,
		Data:       json.RawMessage(fmt.Sprintf(`{"before":null,"after":{"id":%d,"status":"new"}}`, requestID)),
		ReceivedAt: at.Add(time.Second),
	}
}

// FromEvent derives an entry the way the consumer does.
func FromEvent(tb testing.TB, id, typ, subject, actor, role string, at time.Time, data any) audit.Entry {
	tb.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		tb.Fatal(err)
	}
	source := events.SourceTickets
	if audit.IsCallType(typ) {
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

// Call is an API call event's entry; user 0 is an anonymous call.
func Call(tb testing.TB, id string, at time.Time, method, route, path string, status int, seconds float64, user int64, role string) audit.Entry {
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
	return FromEvent(tb, id, events.TypeAPIRequest, path, actor, role, at, c)
}

// Refusals is an aggregate of count refused calls of an anonymous client.
func Refusals(tb testing.TB, id string, at time.Time, route string, count int64) audit.Entry {
	tb.Helper()
	return FromEvent(tb, id, events.TypeAPIRefused, route, "", "", at, events.APIRefused{
		Method: "GET", Route: route, StatusCode: 429, IPAddress: "10.0.0.9", Count: count, From: at.Add(-time.Minute), To: at,
	})
}

func ticketChange(tb testing.TB, id, typ string, ticket int64, actor, role string, at time.Time) audit.Entry {
	tb.Helper()
	tk := events.Ticket{ID: ticket, DisplayID: ids.Display(ids.Request, ticket), Status: "new"}
	return FromEvent(tb, id, typ, tk.DisplayID, actor, role, at, events.TicketChanged{Before: &tk, After: &tk})
}

// Save stores entries as the consumer would now (each one of the past is
// late), failing the test unless each one is stored.
func Save(tb testing.TB, s audit.Store, entries ...audit.Entry) {
	tb.Helper()
	saved, err := s.SaveBatch(context.Background(), entries, time.Now())
	if err != nil {
		tb.Fatalf("SaveBatch: %v", err)
	}
	for i, r := range saved {
		if r.Err != nil || !r.New {
			tb.Fatalf("SaveBatch %s = %+v, want stored", entries[i].EventID, r)
		}
	}
}

// Seed stores a small log whose every count is worked out by hand in the
// tests. "Now" is Base.
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
func Seed(tb testing.TB, s audit.Store) {
	tb.Helper()
	Save(tb, s,
		Call(tb, "c01", minutesAgo(1), "GET", "/user_request/:id", "/user_request/REQ000001", 200, 0.050, 10, "user"),
		Call(tb, "c02", minutesAgo(2), "GET", "/user_request/my", "/user_request/my", 200, 0.020, 10, "user"),
		Call(tb, "c03", minutesAgo(3), "GET", "/staff/requests", "/staff/requests", 200, 0.300, 20, "Staff"),
		Call(tb, "c04", minutesAgo(4), "GET", "/user_request/:id", "/user_request/2", 404, 0.010, 10, "user"),
		Call(tb, "c05", minutesAgo(5), "POST", "/user_request/", "/user_request/", 201, 0.120, 10, "user"),
		Call(tb, "c06", minutesAgo(6), "PUT", "/user_request/:id", "/user_request/1", 500, 1.500, 10, "user"),
		Call(tb, "c07", minutesAgo(7), "GET", "/auth/profile", "/auth/profile", 304, 0.005, 10, "user"),
		Call(tb, "c08", minutesAgo(8), "POST", "/auth/login", "/auth/login", 401, 0.200, 0, ""),
		Call(tb, "c09", minutesAgo(9), "GET", "/user_request/:id", "/user_request/REQ000002", 200, 0.080, 20, "staff"),
		Call(tb, "c10", minutesAgo(9), "DELETE", "/user_request/:id", "/user_request/3", 200, 0.090, 10, "user"),
		Call(tb, "c11", minutesAgo(30*60), "GET", "/user_request/my", "/user_request/my", 200, 9.000, 10, "user"),
		ticketChange(tb, "t1", events.TypeTicketCreated, 1, "10", "user", minutesAgo(20)),
		ticketChange(tb, "t2", events.TypeTicketStatusChanged, 1, "20", "staff", minutesAgo(30)),
		ticketChange(tb, "t3", events.TypeTicketCommentAdded, 2, "10", "user", minutesAgo(40)),
		FromEvent(tb, "u1", events.TypeUserRegistered, "USR000030", "svc-auth", "", minutesAgo(50), events.UserRegistered{User: events.User{ID: 30}}),
		ticketChange(tb, "t4", events.TypeTicketCreated, 3, "10", "user", minutesAgo(25*60)),
	)
}

func eventIDs(entries []audit.Entry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.EventID)
	}
	return out
}

// jsonEqual compares JSON documents by value, not by spelling.
var jsonEqual = cmp.Transformer("json", func(raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid JSON: " + string(raw)
	}
	return v
})

func list(t *testing.T, s audit.Store, q audit.Query) audit.Listing {
	t.Helper()
	l, err := s.List(ctxOf(t), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return l
}

func testSaveBatch(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxOf(t)
	e := Entry("ev-1", audit.ActionCreateRequest, 7, "42", Base)
	e.Data = json.RawMessage(`{"before":null,"after":{"id":7,"title":"Printer \u00e9","tags":["a",1,2.5,true,null],"big":9007199254740993,"tiny":1e-7}}`)
	other := Entry("ev-2", audit.ActionCreateRequest, 8, "42", Base.Add(-time.Second))
	saved, err := s.SaveBatch(ctx, []audit.Entry{e, other}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]audit.Saved{{New: true}, {New: true}}, saved); diff != "" {
		t.Fatalf("first save (-want +got):\n%s", diff)
	}

	// Saved again, with a refused entry and an id twice in the batch: the
	// stored ones are not new, the new one is new once, the refused one
	// fails alone and for good.
	again := e
	again.Subject = "changed"
	third := Entry("ev-3", audit.ActionCreateRequest, 9, "42", Base.Add(-2*time.Second))
	saved, err = s.SaveBatch(ctx, []audit.Entry{again, h.Refused("bad"), third, other, third}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 5 {
		t.Fatalf("%d outcomes for 5 entries", len(saved))
	}
	if saved[0] != (audit.Saved{}) || saved[2] != (audit.Saved{New: true}) || saved[3] != (audit.Saved{}) || saved[4] != (audit.Saved{}) {
		t.Errorf("outcomes = %+v; want stored already, refused, new, stored already, stored already", saved)
	}
	if !isInvalid(saved[1].Err) {
		t.Errorf("refused entry: %+v, want ErrInvalidEvent", saved[1])
	}

	l := list(t, s, audit.Query{CountUpTo: 100})
	if l.Total != 3 || len(l.Entries) != 3 {
		t.Fatalf("after saving: %d entries, total %d; want 3", len(l.Entries), l.Total)
	}
	// Reading it back gives the entry that was saved first.
	if diff := cmp.Diff(e, l.Entries[0], jsonEqual); diff != "" {
		t.Errorf("entry read back (-want +got):\n%s", diff)
	}
	if saved, err := s.SaveBatch(ctx, nil, time.Time{}); err != nil || len(saved) != 0 {
		t.Errorf("empty batch = %v, %v", saved, err)
	}
}

func isInvalid(err error) bool { return errors.Is(err, audit.ErrInvalidEvent) }

func testActorIDs(t *testing.T, h Harness) {
	s := h.New(t)
	for i, actor := range []string{"12", "svc-relay", ""} {
		Save(t, s, Entry(fmt.Sprintf("actor-%d", i), audit.ActionCreateRequest, 1, actor, Base.Add(-time.Duration(i)*time.Second)))
	}
	actors := map[string]bool{}
	for _, e := range list(t, s, audit.Query{Limit: 10}).Entries {
		actors[e.ActorID] = true
	}
	if diff := cmp.Diff(map[string]bool{"12": true, "svc-relay": true, "": true}, actors); diff != "" {
		t.Errorf("actor ids read back (-want +got):\n%s", diff)
	}
	for actor, want := range map[string][]string{"12": {"actor-0"}, "svc-relay": {"actor-1"}} {
		if got := eventIDs(list(t, s, audit.Query{ActorID: actor, Limit: 10}).Entries); !cmp.Equal(want, got) {
			t.Errorf("by actor %q = %v, want %v", actor, got, want)
		}
	}
}

func testRequestActions(t *testing.T, h Harness) {
	s := h.New(t)
	hr := func(n float64) time.Time { return Base.Add(-time.Duration(n * float64(time.Hour))) }
	Save(t, s,
		Entry("e1", audit.ActionCreateRequest, 1, "10", hr(1)),
		Entry("e2", audit.ActionCreateRequest, 2, "11", hr(2)),
		Entry("e3", audit.ActionUpdateRequest, 1, "11", hr(3)),
		Entry("e4", "", 0, "10", hr(0.5)), // not a ticket action
		Entry("e5", audit.ActionCreateRequest, 3, "10", hr(30)),
		Entry("e6a", audit.ActionCreateRequest, 4, "12", hr(5)), // e6a and e6b tie on time:
		Entry("e6b", audit.ActionCreateRequest, 5, "12", hr(5)), // the larger id comes first
	)
	day := hr(24)
	actions := func(q audit.Query) audit.Query { q.Log = audit.ActionEntries; q.CountUpTo = 100; return q }
	tests := []struct {
		name  string
		q     audit.Query
		want  []string
		total int64
	}{
		{"last day, newest first", audit.Query{Since: day, Limit: 50}, []string{"e1", "e2", "e3", "e6b", "e6a"}, 5},
		{"no time bound", audit.Query{Limit: 50}, []string{"e1", "e2", "e3", "e6b", "e6a", "e5"}, 6},
		{"second page of two", audit.Query{Since: day, Offset: 2, Limit: 2}, []string{"e3", "e6b"}, 5},
		{"last page", audit.Query{Since: day, Offset: 4, Limit: 2}, []string{"e6a"}, 5},
		{"past the end", audit.Query{Since: day, Offset: 10, Limit: 2}, []string{}, 5},
		{"by request", audit.Query{Since: day, RequestID: 1, Limit: 50}, []string{"e1", "e3"}, 2},
		{"by actor", audit.Query{Since: day, ActorID: "11", Limit: 50}, []string{"e2", "e3"}, 2},
		{"by action", audit.Query{Since: day, Action: audit.ActionUpdateRequest, Limit: 50}, []string{"e3"}, 1},
		{"by actor and action", audit.Query{ActorID: "10", Action: audit.ActionCreateRequest, Limit: 50}, []string{"e1", "e5"}, 2},
		{"since is inclusive", audit.Query{Since: hr(2), Limit: 50}, []string{"e1", "e2"}, 2},
		{"nothing matches", audit.Query{Since: day, RequestID: 99, Limit: 50}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := list(t, s, actions(tt.q))
			if diff := cmp.Diff(tt.want, eventIDs(l.Entries)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if !l.Counted || l.Total != tt.total {
				t.Errorf("total = %d (counted %t), want %d", l.Total, l.Counted, tt.total)
			}
		})
	}
}

func testCalls(t *testing.T, h Harness) {
	s := h.New(t)
	Seed(t, s)
	Save(t, s, Refusals(t, "r01", minutesAgo(10), "/auth/login", 250))
	day := Base.Add(-24 * time.Hour)
	calls := func(q audit.Query) audit.Query { q.Log = audit.CallEntries; q.CountUpTo = 100; return q }
	tests := []struct {
		name  string
		q     audit.Query
		want  []string
		total int64
	}{
		{"last day, newest first, time ties by id descending", audit.Query{Since: day, Limit: 50},
			[]string{"c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c10", "c09", "r01"}, 11},
		{"two days", audit.Query{Since: Base.Add(-48 * time.Hour), Limit: 50},
			[]string{"c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c10", "c09", "r01", "c11"}, 12},
		{"last page", audit.Query{Since: day, Offset: 8, Limit: 5}, []string{"c10", "c09", "r01"}, 11},
		{"by method", audit.Query{Since: day, Method: "GET", Limit: 50}, []string{"c01", "c02", "c03", "c04", "c07", "c09", "r01"}, 7},
		{"by status", audit.Query{Since: day, StatusCode: 200, Limit: 50}, []string{"c01", "c02", "c03", "c10", "c09"}, 5},
		{"refused", audit.Query{Since: day, StatusCode: 429, Limit: 50}, []string{"r01"}, 1},
		{"by user", audit.Query{Since: day, ActorID: "20", Limit: 50}, []string{"c03", "c09"}, 2},
		{"every filter", audit.Query{Since: day, Method: "GET", StatusCode: 200, ActorID: "10", Limit: 50}, []string{"c01", "c02"}, 2},
		{"last 5 minutes", audit.Query{Since: minutesAgo(5), Limit: 50}, []string{"c01", "c02", "c03", "c04", "c05"}, 5},
		{"nothing", audit.Query{Since: day, StatusCode: 418, Limit: 50}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := list(t, s, calls(tt.q))
			if diff := cmp.Diff(tt.want, eventIDs(l.Entries)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if l.Total != tt.total {
				t.Errorf("total = %d, want %d", l.Total, tt.total)
			}
		})
	}

	// The call reads back whole.
	got := list(t, s, audit.Query{Log: audit.CallEntries, Since: minutesAgo(3), ActorID: "20", Limit: 1}).Entries
	if len(got) != 1 {
		t.Fatalf("calls = %v", got)
	}
	uid := int64(20)
	want := &audit.Call{Method: "GET", Route: "/staff/requests", Path: "/staff/requests", StatusCode: 200, ProcessTime: 0.3,
		IPAddress: "10.0.0.1", UserAgent: "test", UserID: &uid, Role: "Staff", RequestID: "rq-c03", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Count: 1}
	if diff := cmp.Diff(want, got[0].Call); diff != "" {
		t.Errorf("call read back (-want +got):\n%s", diff)
	}
	if got[0].Action != audit.ActionListAssignedRequests || got[0].ActorID != "20" {
		t.Errorf("action %q, actor %q", got[0].Action, got[0].ActorID)
	}
	// So does the aggregate.
	got = list(t, s, audit.Query{Log: audit.CallEntries, StatusCode: 429, Limit: 1}).Entries
	if len(got) != 1 || got[0].Call == nil || got[0].Call.Count != 250 || !got[0].Call.Aggregate || got[0].Call.Route != "/auth/login" {
		t.Errorf("aggregate read back = %+v", got)
	}
}

func testEvents(t *testing.T, h Harness) {
	s := h.New(t)
	Seed(t, s)
	tests := []struct {
		name string
		q    audit.Query
		want []string
	}{
		{"every event but API calls", audit.Query{Log: audit.NotCallEntries, Limit: 50}, []string{"t1", "t2", "t3", "u1", "t4"}},
		{"by type", audit.Query{Type: events.TypeTicketCreated, Limit: 50}, []string{"t1", "t4"}},
		{"API calls when asked", audit.Query{Type: events.TypeAPIRequest, Since: minutesAgo(3), Limit: 50}, []string{"c01", "c02", "c03"}},
		{"by subject", audit.Query{Log: audit.NotCallEntries, Subject: "REQ000001", Limit: 50}, []string{"t1", "t2"}},
		{"by user actor", audit.Query{Log: audit.NotCallEntries, ActorID: "10", Limit: 50}, []string{"t1", "t3", "t4"}},
		{"by other actor", audit.Query{ActorID: "svc-auth", Limit: 50}, []string{"u1"}},
		{"between, until exclusive", audit.Query{Since: minutesAgo(30), Until: minutesAgo(20), Limit: 50}, []string{"t2"}},
		{"between, since inclusive", audit.Query{Log: audit.NotCallEntries, Since: minutesAgo(30), Until: minutesAgo(19), Limit: 50}, []string{"t1", "t2"}},
		{"paged", audit.Query{Log: audit.NotCallEntries, Offset: 1, Limit: 2}, []string{"t2", "t3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.CountUpTo = 100
			l := list(t, s, tt.q)
			if diff := cmp.Diff(tt.want, eventIDs(l.Entries)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if tt.q.Offset == 0 && l.Total != int64(len(tt.want)) {
				t.Errorf("total = %d, want %d", l.Total, len(tt.want))
			}
		})
	}
}

// testPaging walks a log by cursor, and counts it up to a bound.
func testPaging(t *testing.T, h Harness) {
	s := h.New(t)
	var all []audit.Entry
	for i := range 23 {
		// Pairs tie on time, so that the cursor must break ties by id.
		all = append(all, Entry(fmt.Sprintf("p%02d", i), audit.ActionCreateRequest, int64(i+1), "7", Base.Add(-time.Duration(i/2)*time.Second)))
	}
	Save(t, s, all...)
	want := eventIDs(list(t, s, audit.Query{Limit: 100}).Entries)
	if len(want) != 23 {
		t.Fatalf("%d entries listed, want 23", len(want))
	}
	var walked []string
	var after *audit.Cursor
	for range 10 {
		l := list(t, s, audit.Query{ActorID: "7", After: after, Limit: 5})
		if l.Counted {
			t.Error("a keyset page was counted without being asked")
		}
		walked = append(walked, eventIDs(l.Entries)...)
		if len(l.Entries) < 5 {
			break
		}
		c := audit.CursorOf(l.Entries[len(l.Entries)-1])
		after = &c
	}
	if diff := cmp.Diff(want, walked); diff != "" {
		t.Errorf("walk by cursor (-want +got):\n%s", diff)
	}
	l := list(t, s, audit.Query{CountUpTo: 10, Limit: 1})
	if !l.Counted || l.Total != 10 {
		t.Errorf("count up to 10 of 23 = %d (counted %t), want 10", l.Total, l.Counted)
	}
}

// testStats checks the statistics against the counts worked out by hand
// from Seed, through the domain as the service computes them: hour
// summaries for the sealed hours, the entries themselves at the edges.
func testStats(t *testing.T, h Harness) {
	s := h.New(t)
	Seed(t, s)
	ctx := ctxOf(t)
	svc := audit.NewService(s, func() time.Time { return Base })
	got, err := svc.Stats(ctx, 24)
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
	// 11th. The hours summarised for the first answer are read back.
	got, err = svc.Stats(ctx, 48)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 16 || got.Calls != 11 || got.Actions != 9 || got.ByStatusClass["2xx"] != 7 ||
		got.ByAction["view_my_requests"] != 2 || got.ByAction["create_request"] != 2 ||
		*got.LatencyP50 != 0.090 || *got.LatencyP95 != 9.0 {
		t.Errorf("two days: %+v p50 %v p95 %v", got.Counts, *got.LatencyP50, *got.LatencyP95)
	}

	// Refused calls count as the calls they stand for, without a latency.
	Save(t, s, Refusals(t, "r01", minutesAgo(4), "/auth/login", 250))
	got, err = svc.Stats(ctx, 24)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 264 || got.Calls != 260 || got.ByStatusClass["4xx"] != 252 || *got.LatencyP50 != 0.080 {
		t.Errorf("with 250 refusals: %+v p50 %v", got.Counts, *got.LatencyP50)
	}

	// An empty period.
	got, err = audit.NewService(s, func() time.Time { return Base.Add(240 * time.Hour) }).Stats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 0 || got.Calls != 0 || got.LatencyP50 != nil || got.LatencyP95 != nil || got.ByAction["view_request"] != 0 {
		t.Errorf("empty period: %+v", got)
	}
}

// testRollups: sealed hours and minutes are summarised once and read
// back; an entry that arrives late in one (recorded through the domain, as
// the consumer does) makes its summaries out of date, and a summary
// computed before a touch is never saved over it.
func testRollups(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxOf(t)
	hour := Base.Truncate(time.Hour).Add(-3 * time.Hour) // 12:00; Base is 15:09:26
	Save(t, s, Entry("a", audit.ActionCreateRequest, 1, "1", hour.Add(10*time.Minute)),
		Entry("b", audit.ActionCreateRequest, 2, "1", Base.Add(-5*time.Minute)))
	svc := audit.NewService(s, func() time.Time { return Base })
	stats := func() int64 {
		t.Helper()
		st, err := svc.Stats(ctx, 6)
		if err != nil {
			t.Fatal(err)
		}
		return st.Total
	}
	if n := stats(); n != 2 {
		t.Fatalf("total = %d, want 2", n)
	}
	rollups := func(span time.Duration, from, to time.Time) []audit.Rollup {
		t.Helper()
		rs, err := s.Rollups(ctx, span, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	if rs := rollups(time.Hour, hour, hour.Add(time.Hour)); len(rs) != 1 || !rs[0].Valid() || rs[0].Summary.Total != 1 {
		t.Fatalf("rollup of the sealed hour = %+v, want one valid summary of 1 entry", rs)
	}
	// The hour still open is summarised by the minute, up to the last
	// sealed one (15:09:26 less 10 s: up to 15:09).
	minutes := rollups(time.Minute, Base.Truncate(time.Hour), Base)
	var total int64
	for _, r := range minutes {
		if !r.Valid() {
			t.Errorf("minute %s not valid: %+v", r.Start, r)
			continue
		}
		total += r.Summary.Total
	}
	if len(minutes) != 9 || total != 1 {
		t.Errorf("%d minute rollups holding %d entries, want 9 (15:00 to 15:08) holding 1", len(minutes), total)
	}

	// Late entries, in the sealed hour and in a sealed minute.
	late := func(id string, at time.Time) events.Event {
		return events.Event{SpecVersion: events.SpecVersion, ID: id, Source: events.SourceTickets, Type: events.TypeTicketCreated,
			Subject: "REQ000009", Time: at, Data: json.RawMessage(`{"before":null,"after":{"id":9}}`)}
	}
	for _, r := range svc.RecordBatch(ctx, []events.Event{late("late-hour", hour.Add(20*time.Minute)), late("late-minute", Base.Add(-4*time.Minute))}) {
		if r.Err != nil || !r.New {
			t.Fatalf("late record = %+v", r)
		}
	}
	if n := stats(); n != 4 {
		t.Errorf("total after two late entries = %d, want 4", n)
	}

	// A summary computed at generation g is refused once the stretch moved
	// on.
	rs := rollups(time.Hour, hour, hour.Add(time.Hour))
	if len(rs) != 1 || !rs[0].Valid() {
		t.Fatalf("rollups = %+v", rs)
	}
	old := rs[0]
	if err := s.Touch(ctx, []time.Time{hour.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	stale := audit.NewSummary()
	stale.Total = 99
	if err := s.SaveRollup(ctx, audit.Rollup{Span: time.Hour, Start: hour, Gen: old.Gen, Summary: &stale, SumGen: old.Gen}); err != nil {
		t.Fatal(err)
	}
	if rs := rollups(time.Hour, hour, hour.Add(time.Hour)); len(rs) != 1 || rs[0].Valid() {
		t.Errorf("after a touch, rollup = %+v, want one out of date", rs)
	}
	if n := stats(); n != 4 {
		t.Errorf("total after a refused summary = %d, want 4", n)
	}
}

func testPurge(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := ctxOf(t)
	now := Base
	keep := 90 * 24 * time.Hour
	Save(t, s,
		Entry("old-1", audit.ActionCreateRequest, 1, "1", now.Add(-keep-time.Millisecond)),
		Entry("old-2", "", 0, "1", now.Add(-keep-24*time.Hour)),
		Entry("old-3", audit.ActionAddComment, 2, "2", now.Add(-400*24*time.Hour)),
		Entry("new-1", audit.ActionCreateRequest, 1, "1", now.Add(-keep)), // exactly at the limit: kept
		Entry("new-2", "", 0, "1", now.Add(-time.Hour)),
		Entry("new-3", audit.ActionAddComment, 2, "2", now),
	)
	for _, tt := range []struct {
		n    int
		want time.Time
		ok   bool
	}{{1, now.Add(-400 * 24 * time.Hour), true}, {2, now.Add(-keep - 24*time.Hour), true}, {6, now, true}, {7, time.Time{}, false}} {
		got, ok, err := s.NthOldest(ctx, tt.n)
		if err != nil || ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("NthOldest(%d) = %v, %t, %v; want %v, %t", tt.n, got, ok, err, tt.want, tt.ok)
		}
	}
	// Two entries a step: the two oldest, then the one left before the
	// limit.
	p := &audit.Purger{Store: s, Keep: keep, Every: time.Hour, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Batch: 2}
	n, err := p.PurgeOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d, want 3", n)
	}
	if diff := cmp.Diff([]string{"new-3", "new-2", "new-1"}, eventIDs(list(t, s, audit.Query{Limit: 10}).Entries)); diff != "" {
		t.Errorf("entries left (-want +got):\n%s", diff)
	}
	if n, err := p.PurgeOnce(ctx); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0, nil", n, err)
	}
}

func ptr[T any](v T) *T { return &v }

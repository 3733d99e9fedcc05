package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

var (
	eventTime = time.Date(2026, 3, 14, 15, 9, 26, 535_897_000, time.UTC)
	received  = time.Date(2026, 3, 14, 15, 9, 27, 0, time.UTC)
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func ticketEvent(tb testing.TB, data string) events.Event {
	tb.Helper()
	return events.Event{
		SpecVersion:     events.SpecVersion,
		ID:              "ev-1",
		Source:          events.SourceTickets,
		Type:            events.TypeTicketCreated,
		Subject:         "REQ000007",
		Time:            eventTime,
		DataContentType: "application/json",
		Data:            json.RawMessage(data),
		ActorID:         "42",
		ActorRole:       "user",
		TraceParent:     traceparent,
	}
}

func TestNewEntry(t *testing.T) {
	created := `{"before":null,"after":{"id":7,"status":"new"}}`
	tests := []struct {
		name   string
		edit   func(*events.Event)
		want   func(*audit.Entry)
		errors bool
	}{
		{name: "ticket created", edit: func(*events.Event) {}, want: func(*audit.Entry) {}},
		{
			name: "no traceparent",
			edit: func(e *events.Event) { e.TraceParent = "" },
			want: func(e *audit.Entry) { e.TraceID = "" },
		},
		{
			name: "malformed traceparent",
			edit: func(e *events.Event) { e.TraceParent = "00-xyz-00f067aa0ba902b7-01" },
			want: func(e *audit.Entry) { e.TraceID = "" },
		},
		{
			name: "all-zero trace id",
			edit: func(e *events.Event) { e.TraceParent = "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
			want: func(e *audit.Entry) { e.TraceID = "" },
		},
		{
			name: "deletion: the id comes from before",
			edit: func(e *events.Event) {
				e.Type = events.TypeTicketDeleted
				e.Data = json.RawMessage(`{"before":{"id":9},"after":null}`)
			},
			want: func(e *audit.Entry) {
				e.Type, e.Action, e.RequestID = events.TypeTicketDeleted, audit.ActionDeleteRequest, 9
				e.Data = json.RawMessage(`{"before":{"id":9},"after":null}`)
			},
		},
		{
			name: "ticket event without a numeric id",
			edit: func(e *events.Event) { e.Data = json.RawMessage(`{"after":{"id":"REQ000007"}}`) },
			want: func(e *audit.Entry) { e.RequestID, e.Data = 0, json.RawMessage(`{"after":{"id":"REQ000007"}}`) },
		},
		{
			name: "not a ticket event: no action, no request id",
			edit: func(e *events.Event) {
				e.Type, e.Source = events.TypeUserRegistered, events.SourceAuth
				e.Data = json.RawMessage(`{"user":{"id":7}}`)
			},
			want: func(e *audit.Entry) {
				e.Type, e.Source, e.Action, e.RequestID = events.TypeUserRegistered, events.SourceAuth, "", 0
				e.Data = json.RawMessage(`{"user":{"id":7}}`)
			},
		},
		{name: "data is an array", edit: func(e *events.Event) { e.Data = json.RawMessage(`[1]`) }, errors: true},
		{name: "data is a string", edit: func(e *events.Event) { e.Data = json.RawMessage(`"x"`) }, errors: true},
		{name: "data is null", edit: func(e *events.Event) { e.Data = json.RawMessage(`null`) }, errors: true},
		{name: "data is not JSON", edit: func(e *events.Event) { e.Data = json.RawMessage(`{"a":`) }, errors: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := ticketEvent(t, created)
			tt.edit(&ev)
			got, err := audit.NewEntry(ev, received)
			if tt.errors {
				if !errors.Is(err, audit.ErrInvalidEvent) {
					t.Fatalf("NewEntry error = %v, want ErrInvalidEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := audit.Entry{
				EventID:    "ev-1",
				Type:       events.TypeTicketCreated,
				Source:     events.SourceTickets,
				Subject:    "REQ000007",
				Time:       eventTime,
				ActorID:    "42",
				ActorRole:  "user",
				TraceID:    "4bf92f3577b34da6a3ce929d0e0e4736",
				Action:     audit.ActionCreateRequest,
				RequestID:  7,
				Data:       json.RawMessage(created),
				ReceivedAt: received,
			}
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEntryChange(t *testing.T) {
	tests := []struct {
		data          string
		before, after string // "" means absent
	}{
		{`{"before":null,"after":{"id":1}}`, `null`, `{"id":1}`},
		{`{"before":{"status":"new"},"after":{"status":"closed"}}`, `{"status":"new"}`, `{"status":"closed"}`},
		{`{"user":{"id":1}}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			before, after := audit.Entry{Data: json.RawMessage(tt.data)}.Change()
			if string(before) != tt.before || string(after) != tt.after {
				t.Errorf("Change() = %s, %s; want %s, %s", before, after, tt.before, tt.after)
			}
		})
	}
}

func TestActions(t *testing.T) {
	for typ, want := range map[string]string{
		events.TypeTicketCreated: audit.ActionCreateRequest,
		events.TypeTicketDeleted: audit.ActionDeleteRequest,
	} {
		if got := audit.ActionOf(typ); got != want {
			t.Errorf("ActionOf(%s) = %q, want %q", typ, got, want)
		}
	}
	for _, typ := range []string{events.TypeUserRegistered, events.TypeAPIRequest, "support.ticket.unknown.v1"} {
		if got := audit.ActionOf(typ); got != "" {
			t.Errorf("ActionOf(%s) = %q, want none", typ, got)
		}
	}
	want := []string{"create_request", "view_request", "view_my_requests", "list_assigned_requests",
		"update_request", "delete_request", "change_status", "assign_request", "add_comment"}
	if diff := cmp.Diff(want, audit.Actions()); diff != "" {
		t.Errorf("Actions (-want +got):\n%s", diff)
	}
	for _, a := range want {
		if !audit.ValidAction(a) {
			t.Errorf("ValidAction(%s) = false", a)
		}
	}
	for _, a := range []string{"", "CREATE_REQUEST", "drop_table"} {
		if audit.ValidAction(a) {
			t.Errorf("ValidAction(%q) = true", a)
		}
	}
}

// fakeStore records what the service asks of it.
type fakeStore struct {
	saved     []audit.Entry
	outcomes  map[string]audit.Saved // by event id; absent: New
	dead      []audit.DeadLetter
	queries   []audit.Query
	listing   audit.Listing
	summaries [][2]time.Time // ranges Summarize was asked
	summary   func(from, to time.Time) audit.Summary
	rollups   map[time.Duration][]audit.Rollup // by span
	kept      []audit.Rollup                   // SaveRollup calls
	late      []time.Time                      // the late times of SaveBatch calls
	touched   []time.Time
	err       error
}

func (s *fakeStore) SaveBatch(_ context.Context, entries []audit.Entry, late time.Time) ([]audit.Saved, error) {
	s.saved = append(s.saved, entries...)
	s.late = append(s.late, late)
	if s.err != nil {
		return nil, s.err
	}
	out := make([]audit.Saved, len(entries))
	for i, e := range entries {
		out[i] = audit.Saved{New: true}
		if o, ok := s.outcomes[e.EventID]; ok {
			out[i] = o
		}
	}
	return out, nil
}

func (s *fakeStore) SaveDeadLetter(_ context.Context, d audit.DeadLetter) error {
	s.dead = append(s.dead, d)
	return s.err
}

func (s *fakeStore) List(_ context.Context, q audit.Query) (audit.Listing, error) {
	s.queries = append(s.queries, q)
	return s.listing, s.err
}

func (s *fakeStore) Summarize(_ context.Context, from, to time.Time) (audit.Summary, error) {
	s.summaries = append(s.summaries, [2]time.Time{from, to})
	if s.summary == nil {
		return audit.NewSummary(), s.err
	}
	return s.summary(from, to), s.err
}

func (s *fakeStore) Rollups(_ context.Context, span time.Duration, from, to time.Time) ([]audit.Rollup, error) {
	var out []audit.Rollup
	for _, r := range s.rollups[span] {
		if !r.Start.Before(from) && r.Start.Before(to) {
			out = append(out, r)
		}
	}
	return out, s.err
}

func (s *fakeStore) SaveRollup(_ context.Context, r audit.Rollup) error {
	s.kept = append(s.kept, r)
	return s.err
}

func (s *fakeStore) Touch(_ context.Context, times []time.Time) error {
	s.touched = append(s.touched, times...)
	return s.err
}

func clock() time.Time { return received }

func TestServiceRecordBatch(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{outcomes: map[string]audit.Saved{
		"stored":  {},
		"refused": {Err: fmt.Errorf("%w: too big", audit.ErrInvalidEvent)},
	}}
	svc := audit.NewService(store, clock)
	ev := func(id, data string, at time.Time) events.Event {
		e := ticketEvent(t, data)
		e.ID, e.Time = id, at
		return e
	}
	late := received.Add(-2 * time.Hour) // its hour is sealed: its summary must go
	got := svc.RecordBatch(ctx, []events.Event{
		ev("new", `{"after":{"id":7}}`, eventTime),
		ev("array", `[1]`, eventTime),
		ev("stored", `{"after":{"id":7}}`, late),
		ev("refused", `{"after":{"id":8}}`, eventTime),
		ev("late", `{"after":{"id":9}}`, late.Add(time.Minute)),
	})
	if len(got) != 5 {
		t.Fatalf("%d outcomes for 5 events", len(got))
	}
	if got[0] != (audit.Recorded{New: true}) || got[2] != (audit.Recorded{}) || got[4] != (audit.Recorded{New: true}) {
		t.Errorf("outcomes = %+v", got)
	}
	for _, i := range []int{1, 3} {
		if !errors.Is(got[i].Err, audit.ErrInvalidEvent) {
			t.Errorf("outcome %d = %+v, want ErrInvalidEvent", i, got[i])
		}
	}
	var saved []string
	for _, e := range store.saved {
		saved = append(saved, e.EventID)
		if !e.ReceivedAt.Equal(received) {
			t.Errorf("%s received at %v", e.EventID, e.ReceivedAt)
		}
	}
	if diff := cmp.Diff([]string{"new", "stored", "refused", "late"}, saved); diff != "" {
		t.Errorf("entries stored in one batch, the undecodable one left out (-want +got):\n%s", diff)
	}
	// Late: before the minute of received less LateAfter (15:09).
	if diff := cmp.Diff([]time.Time{time.Date(2026, 3, 14, 15, 9, 0, 0, time.UTC)}, store.late); diff != "" {
		t.Errorf("late bound passed to the store (-want +got):\n%s", diff)
	}

	down := errors.New("no reachable servers")
	store.err = down
	got = svc.RecordBatch(ctx, []events.Event{ev("a", `{}`, eventTime), ev("b", `[1]`, eventTime)})
	if !errors.Is(got[0].Err, down) || errors.Is(got[0].Err, audit.ErrInvalidEvent) || !errors.Is(got[1].Err, audit.ErrInvalidEvent) {
		t.Errorf("with the store down = %+v; want the store's error, and the invalid event still invalid", got)
	}
	if created, err := svc.Record(ctx, ev("c", `{}`, eventTime)); created || !errors.Is(err, down) {
		t.Errorf("Record with the store down = %v, %v", created, err)
	}
}

func TestServiceRecordDeadLetter(t *testing.T) {
	store := &fakeStore{}
	svc := audit.NewService(store, clock)
	d := audit.DeadLetter{Subject: "support.x", Reason: "bad", Data: []byte("junk")}
	if err := svc.RecordDeadLetter(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	d.ReceivedAt = received
	if diff := cmp.Diff([]audit.DeadLetter{d}, store.dead); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

func TestServiceRequestActions(t *testing.T) {
	cursor := audit.Cursor{Time: eventTime, EventID: "x"}
	tests := []struct {
		name string
		f    audit.Filter
		p    audit.Page
		want audit.Query
	}{
		{
			name: "defaults",
			f:    audit.DefaultFilter(),
			p:    audit.FirstPage(),
			want: audit.Query{Log: audit.ActionEntries, Since: received.Add(-24 * time.Hour), Limit: 51, CountUpTo: 10_001},
		},
		{
			name: "every filter, third page",
			f:    audit.Filter{RequestID: 7, UserID: 42, Action: audit.ActionCreateRequest, HoursAgo: 168},
			p:    audit.Page{Number: 3, Size: 20},
			want: audit.Query{Log: audit.ActionEntries, RequestID: 7, ActorID: "42", Action: "create_request",
				Since: received.Add(-168 * time.Hour), Offset: 40, Limit: 21, CountUpTo: 10_001},
		},
		{
			name: "deepest page by number",
			f:    audit.Filter{HoursAgo: 1},
			p:    audit.Page{Number: 10, Size: audit.MaxPageSize},
			want: audit.Query{Log: audit.ActionEntries, Since: received.Add(-time.Hour), Offset: 9000, Limit: 1001, CountUpTo: 10_001},
		},
		{
			name: "by cursor: not counted",
			f:    audit.Filter{HoursAgo: 1},
			p:    audit.Page{Size: 5, After: &cursor},
			want: audit.Query{Log: audit.ActionEntries, Since: received.Add(-time.Hour), After: &cursor, Limit: 6},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{listing: audit.Listing{Entries: []audit.Entry{{EventID: "a"}}, Counted: true, Total: 41}}
			res, err := audit.NewService(store, clock).RequestActions(context.Background(), tt.f, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.Query{tt.want}, store.queries); diff != "" {
				t.Errorf("store query (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(audit.Result{Entries: store.listing.Entries, Counted: true, Total: 41}, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServiceListPages: one entry more than a page holds makes a next
// cursor (at the last entry of the page), and a count past CountLimit is
// capped and flagged.
func TestServiceListPages(t *testing.T) {
	at := func(i int) audit.Entry {
		return audit.Entry{EventID: fmt.Sprint(i), Time: eventTime.Add(-time.Duration(i) * time.Second)}
	}
	store := &fakeStore{listing: audit.Listing{Entries: []audit.Entry{at(1), at(2), at(3)}, Counted: true, Total: 10_001}}
	res, err := audit.NewService(store, clock).APILogs(context.Background(), audit.DefaultCallFilter(), audit.Page{Number: 1, Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Result{Entries: []audit.Entry{at(1), at(2)}, Counted: true, Total: audit.CountLimit, Capped: true,
		Next: &audit.Cursor{Time: at(2).Time, EventID: "2"}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	store.listing = audit.Listing{Entries: []audit.Entry{at(1), at(2)}, Counted: true, Total: 10_000}
	res, err = audit.NewService(store, clock).APILogs(context.Background(), audit.DefaultCallFilter(), audit.Page{Number: 1, Size: 2})
	if err != nil || res.Next != nil || res.Capped || res.Total != 10_000 {
		t.Errorf("last page, 10 000 entries: %+v, %v", res, err)
	}
}

func TestServiceRequestActionsRejectsBadParameters(t *testing.T) {
	store := &fakeStore{}
	_, err := audit.NewService(store, clock).RequestActions(context.Background(),
		audit.Filter{RequestID: -1, Action: "nope", HoursAgo: 500}, audit.Page{Number: 0, Size: 0})
	if !fault.Is(err, fault.Validation) {
		t.Fatalf("error = %v, want a validation fault", err)
	}
	var fe *fault.Error
	errors.As(err, &fe)
	var fields []string
	for _, f := range fe.Fields {
		fields = append(fields, f.Field)
	}
	if diff := cmp.Diff([]string{"size", "request_id", "action", "hours_ago"}, fields); diff != "" {
		t.Errorf("invalid fields (-want +got):\n%s", diff)
	}
	if len(store.queries) != 0 {
		t.Error("an invalid query reached the store")
	}
}

func TestValidate(t *testing.T) {
	ok := audit.DefaultFilter()
	first := audit.FirstPage()
	tests := []struct {
		name  string
		f     audit.Filter
		p     audit.Page
		field string // "" means valid
	}{
		{"defaults", ok, first, ""},
		{"page 0", ok, audit.Page{Number: 0, Size: 50}, "page"},
		{"last page by number", ok, audit.Page{Number: 200, Size: 50}, ""},
		{"page too far", ok, audit.Page{Number: 201, Size: 50}, "page"},
		{"largest page, deepest", ok, audit.Page{Number: 10, Size: 1000}, ""},
		{"largest page, too far", ok, audit.Page{Number: 11, Size: 1000}, "page"},
		{"any depth by cursor", ok, audit.Page{Size: 1000, After: &audit.Cursor{EventID: "x"}}, ""},
		{"size 0", ok, audit.Page{Number: 1, Size: 0}, "size"},
		{"size 1", ok, audit.Page{Number: 1, Size: 1}, ""},
		{"size 1000", ok, audit.Page{Number: 1, Size: 1000}, ""},
		{"size 1001", ok, audit.Page{Number: 1, Size: 1001}, "size"},
		{"hours 0", audit.Filter{HoursAgo: 0}, first, "hours_ago"},
		{"hours 1", audit.Filter{HoursAgo: 1}, first, ""},
		{"hours 168", audit.Filter{HoursAgo: 168}, first, ""},
		{"hours 169", audit.Filter{HoursAgo: 169}, first, "hours_ago"},
		{"negative request", audit.Filter{HoursAgo: 1, RequestID: -3}, first, "request_id"},
		{"negative user", audit.Filter{HoursAgo: 1, UserID: -3}, first, "user_id"},
		{"unknown action", audit.Filter{HoursAgo: 1, Action: "create"}, first, "action"},
		{"known action", audit.Filter{HoursAgo: 1, Action: "add_comment"}, first, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.Validate(tt.f, tt.p)
			switch {
			case tt.field == "" && len(got) != 0:
				t.Errorf("Validate = %+v, want valid", got)
			case tt.field != "" && (len(got) != 1 || got[0].Field != tt.field || got[0].Message == ""):
				t.Errorf("Validate = %+v, want one error on %s", got, tt.field)
			}
		})
	}
}

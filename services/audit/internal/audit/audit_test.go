package audit_test

import (
	"context"
	"encoding/json"
	"errors"
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
	saved        []audit.Entry
	created      bool
	dead         []audit.DeadLetter
	queries      []audit.ActionQuery
	callQueries  []audit.CallQuery
	eventQueries []audit.EventQuery
	entries      []audit.Entry
	total        int64
	counts       audit.Counts
	countSince   []time.Time
	times        []float64 // process times, ascending, for ProcessTimeAt
	ranks        []int64
	err          error
}

func (s *fakeStore) Save(_ context.Context, e audit.Entry) (bool, error) {
	s.saved = append(s.saved, e)
	return s.created, s.err
}

func (s *fakeStore) SaveDeadLetter(_ context.Context, d audit.DeadLetter) error {
	s.dead = append(s.dead, d)
	return s.err
}

func (s *fakeStore) RequestActions(_ context.Context, q audit.ActionQuery) ([]audit.Entry, int64, error) {
	s.queries = append(s.queries, q)
	return s.entries, s.total, s.err
}

func (s *fakeStore) Calls(_ context.Context, q audit.CallQuery) ([]audit.Entry, int64, error) {
	s.callQueries = append(s.callQueries, q)
	return s.entries, s.total, s.err
}

func (s *fakeStore) Events(_ context.Context, q audit.EventQuery) ([]audit.Entry, int64, error) {
	s.eventQueries = append(s.eventQueries, q)
	return s.entries, s.total, s.err
}

func (s *fakeStore) Counts(_ context.Context, since time.Time, classes []audit.StatusClass) (audit.Counts, error) {
	s.countSince = append(s.countSince, since)
	return s.counts, s.err
}

func (s *fakeStore) ProcessTimeAt(_ context.Context, _ time.Time, rank int64) (float64, bool, error) {
	s.ranks = append(s.ranks, rank)
	if rank < 1 || rank > int64(len(s.times)) {
		return 0, false, s.err
	}
	return s.times[rank-1], true, s.err
}

func clock() time.Time { return received }

func TestServiceRecord(t *testing.T) {
	ctx := context.Background()
	store := &fakeStore{created: true}
	svc := audit.NewService(store, clock)
	if created, err := svc.Record(ctx, ticketEvent(t, `{"after":{"id":7}}`)); err != nil || !created {
		t.Fatalf("Record = %v, %v; want true, nil", created, err)
	}
	if len(store.saved) != 1 || store.saved[0].EventID != "ev-1" || !store.saved[0].ReceivedAt.Equal(received) {
		t.Errorf("saved = %+v", store.saved)
	}
	store.created = false
	if created, err := svc.Record(ctx, ticketEvent(t, `{"after":{"id":7}}`)); err != nil || created {
		t.Errorf("Record of a stored event = %v, %v; want false, nil", created, err)
	}
	store.saved = store.saved[:1]

	if _, err := svc.Record(ctx, ticketEvent(t, `[1]`)); !errors.Is(err, audit.ErrInvalidEvent) {
		t.Errorf("Record(array data) = %v, want ErrInvalidEvent", err)
	}
	if len(store.saved) != 1 {
		t.Errorf("an invalid event reached the store")
	}

	down := errors.New("no reachable servers")
	store.err = down
	_, err := svc.Record(ctx, ticketEvent(t, `{}`))
	if !errors.Is(err, down) || errors.Is(err, audit.ErrInvalidEvent) {
		t.Errorf("Record with the store down = %v, want the store's error, not ErrInvalidEvent", err)
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
	tests := []struct {
		name string
		f    audit.Filter
		p    audit.Page
		want audit.ActionQuery
	}{
		{
			name: "defaults",
			f:    audit.DefaultFilter(),
			p:    audit.FirstPage(),
			want: audit.ActionQuery{Since: received.Add(-24 * time.Hour), Offset: 0, Limit: 50},
		},
		{
			name: "every filter, third page",
			f:    audit.Filter{RequestID: 7, UserID: 42, Action: audit.ActionCreateRequest, HoursAgo: 168},
			p:    audit.Page{Number: 3, Size: 20},
			want: audit.ActionQuery{RequestID: 7, ActorID: 42, Action: "create_request", Since: received.Add(-168 * time.Hour), Offset: 40, Limit: 20},
		},
		{
			name: "largest page",
			f:    audit.Filter{HoursAgo: 1},
			p:    audit.Page{Number: audit.MaxPage, Size: audit.MaxPageSize},
			want: audit.ActionQuery{Since: received.Add(-time.Hour), Offset: (audit.MaxPage - 1) * audit.MaxPageSize, Limit: 1000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{entries: []audit.Entry{{EventID: "a"}}, total: 41}
			res, err := audit.NewService(store, clock).RequestActions(context.Background(), tt.f, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.ActionQuery{tt.want}, store.queries); diff != "" {
				t.Errorf("store query (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(audit.Result{Entries: store.entries, Total: 41}, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
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
	if diff := cmp.Diff([]string{"page", "size", "request_id", "action", "hours_ago"}, fields); diff != "" {
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
		{"page too far", ok, audit.Page{Number: audit.MaxPage + 1, Size: 50}, "page"},
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

package audit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

func ptr[T any](v T) *T { return &v }

// apiEvent is a support.api.request.v1 event as the gateway publishes it.
func apiEvent(tb testing.TB, call events.APIRequest) events.Event {
	tb.Helper()
	data, err := json.Marshal(call)
	if err != nil {
		tb.Fatal(err)
	}
	ev := events.Event{
		SpecVersion: events.SpecVersion, ID: "api-1", Source: events.SourceGateway, Type: events.TypeAPIRequest,
		Subject: call.Path, Time: eventTime, DataContentType: "application/json", Data: data,
	}
	if call.UserID != nil {
		ev.ActorID, ev.ActorRole = fmt.Sprint(*call.UserID), call.Role
	}
	return ev
}

func TestReadAction(t *testing.T) {
	tests := []struct {
		method, route, path string
		status              int
		action              string
		requestID           int64
	}{
		{"GET", "/user_request/:id", "/user_request/REQ000001", 200, audit.ActionViewRequest, 1},
		{"GET", "/user_request/:id", "/user_request/1", 200, audit.ActionViewRequest, 1},
		{"GET", "/user_request/:id", "/user_request/req001234", 200, audit.ActionViewRequest, 1234},
		{"GET", "/user_request/:id", "/user_request/REQ1234567", 304, audit.ActionViewRequest, 1234567},
		{"GET", "/user_request/:id", "/user_request/abc", 200, audit.ActionViewRequest, 0},
		{"GET", "/user_request/:id", "/user_request/REQ-1", 200, audit.ActionViewRequest, 0},
		{"GET", "/user_request/:id", "/user_request/+5", 200, audit.ActionViewRequest, 0},
		{"GET", "/user_request/:id", "/user_request/0", 200, audit.ActionViewRequest, 0},
		{"GET", "/user_request/my", "/user_request/my", 200, audit.ActionViewMyRequests, 0},
		{"GET", "/staff/requests", "/staff/requests", 200, audit.ActionListAssignedRequests, 0},
		{"GET", "/staff/requests/", "/staff/requests/", 200, audit.ActionListAssignedRequests, 0},
		// Not reads of tickets, or not successful.
		{"GET", "/user_request/:id", "/user_request/7", 404, "", 0},
		{"GET", "/user_request/:id", "/user_request/7", 403, "", 0},
		{"GET", "/staff/requests", "/staff/requests", 500, "", 0},
		{"PUT", "/user_request/:id", "/user_request/7", 200, "", 0},
		{"DELETE", "/user_request/:id", "/user_request/7", 200, "", 0},
		{"POST", "/user_request/", "/user_request/", 201, "", 0},
		{"GET", "/user_request/:id/comments", "/user_request/7/comments", 200, "", 0},
		{"GET", "/admin/requests", "/admin/requests", 200, "", 0},
		{"GET", "unmatched", "/nowhere", 404, "", 0},
		{"GET", "", "", 200, "", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			action, id := audit.ReadAction(audit.Call{Method: tt.method, Route: tt.route, Path: tt.path, StatusCode: tt.status})
			if action != tt.action || id != tt.requestID {
				t.Errorf("ReadAction = %q, %d; want %q, %d", action, id, tt.action, tt.requestID)
			}
		})
	}
}

func TestNewEntryOfAPIRequest(t *testing.T) {
	view := events.APIRequest{
		Method: "GET", Route: "/user_request/:id", Path: "/user_request/REQ000007", StatusCode: 200,
		ProcessTime: 0.0123, IPAddress: "10.0.0.1", UserAgent: "curl/8", UserID: ptr(int64(42)), Role: "staff",
		RequestID: "rq-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
	}
	wantCall := &audit.Call{
		Method: "GET", Route: "/user_request/:id", Path: "/user_request/REQ000007", StatusCode: 200,
		ProcessTime: 0.0123, IPAddress: "10.0.0.1", UserAgent: "curl/8", UserID: ptr(int64(42)), Role: "staff",
		RequestID: "rq-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Count: 1,
	}
	got, err := audit.NewEntry(apiEvent(t, view), received)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCall, got.Call); diff != "" {
		t.Errorf("call (-want +got):\n%s", diff)
	}
	if got.Action != audit.ActionViewRequest || got.RequestID != 7 || got.ActorID != "42" || got.ActorRole != "staff" {
		t.Errorf("action %q, request %d, actor %q %q; want view_request, 7, 42 staff", got.Action, got.RequestID, got.ActorID, got.ActorRole)
	}

	t.Run("a call that is not a read has no action", func(t *testing.T) {
		c := view
		c.Method = "PUT"
		got, err := audit.NewEntry(apiEvent(t, c), received)
		if err != nil {
			t.Fatal(err)
		}
		if got.Action != "" || got.RequestID != 0 || got.Call == nil {
			t.Errorf("action %q, request %d, call %v", got.Action, got.RequestID, got.Call)
		}
	})
	t.Run("an envelope without actor takes the call's user", func(t *testing.T) {
		ev := apiEvent(t, view)
		ev.ActorID, ev.ActorRole = "", ""
		got, err := audit.NewEntry(ev, received)
		if err != nil {
			t.Fatal(err)
		}
		if got.ActorID != "42" || got.ActorRole != "staff" {
			t.Errorf("actor = %q %q, want 42 staff", got.ActorID, got.ActorRole)
		}
	})
	t.Run("anonymous call", func(t *testing.T) {
		c := view
		c.UserID, c.Role, c.Route, c.Path, c.Method = nil, "", "/auth/login", "/auth/login", "post"
		got, err := audit.NewEntry(apiEvent(t, c), received)
		if err != nil {
			t.Fatal(err)
		}
		if got.ActorID != "" || got.Call.Method != "POST" {
			t.Errorf("actor %q, method %q; want none, POST", got.ActorID, got.Call.Method)
		}
	})

	for _, data := range []string{
		`{"route":"/x","status_code":200,"process_time":0.1}`,                 // no method
		`{"method":"GET","status_code":0,"process_time":0.1}`,                 // no status
		`{"method":"GET","status_code":600,"process_time":0.1}`,               // not an HTTP status
		`{"method":"GET","status_code":200,"process_time":-1}`,                // negative time
		`{"method":"GET","status_code":"200","process_time":0.1}`,             // wrong type
		`{"method":"GET","status_code":200,"process_time":0.1,"user_id":"x"}`, // wrong type
	} {
		t.Run("invalid "+data, func(t *testing.T) {
			ev := apiEvent(t, view)
			ev.Data = json.RawMessage(data)
			if _, err := audit.NewEntry(ev, received); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Errorf("NewEntry = %v, want ErrInvalidEvent", err)
			}
		})
	}
	t.Run("unknown members are kept, not refused", func(t *testing.T) {
		ev := apiEvent(t, view)
		ev.Data = json.RawMessage(`{"method":"GET","status_code":204,"process_time":0,"new_member":[1]}`)
		got, err := audit.NewEntry(ev, received)
		if err != nil || got.Call.StatusCode != 204 || string(got.Data) != string(ev.Data) {
			t.Errorf("NewEntry = %+v, %v", got, err)
		}
	})
}

// TestNewEntryOfRefusedCalls: an aggregate of refused calls is an API call
// entry that counts as many calls, has no latency and no ticket action.
func TestNewEntryOfRefusedCalls(t *testing.T) {
	from := eventTime.Add(-time.Minute)
	refused := events.APIRefused{Method: "get", Route: "/user_request/:id", StatusCode: 429, IPAddress: "10.0.0.1",
		UserID: ptr(int64(42)), Role: "user", Count: 1234, From: from, To: eventTime}
	data, err := json.Marshal(refused)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.Event{
		SpecVersion: events.SpecVersion, ID: "refused-1", Source: events.SourceGateway, Type: events.TypeAPIRefused,
		Subject: refused.Route, Time: eventTime, DataContentType: "application/json", Data: data, ActorID: "42", ActorRole: "user",
	}
	got, err := audit.NewEntry(ev, received)
	if err != nil {
		t.Fatal(err)
	}
	want := &audit.Call{Method: "GET", Route: "/user_request/:id", Path: "/user_request/:id", StatusCode: 429, IPAddress: "10.0.0.1",
		UserID: ptr(int64(42)), Role: "user", Count: 1234, Aggregate: true}
	if diff := cmp.Diff(want, got.Call); diff != "" {
		t.Errorf("call (-want +got):\n%s", diff)
	}
	if got.Weight() != 1234 || got.Action != "" || got.RequestID != 0 {
		t.Errorf("weight %d, action %q, request %d; want 1234, none, 0", got.Weight(), got.Action, got.RequestID)
	}
	if _, ok := got.Call.Latency(); ok {
		t.Error("an aggregate has a latency")
	}
	for _, data := range []string{
		`{"method":"GET","route":"/x","status_code":429,"count":0}`,
		`{"method":"GET","route":"/x","status_code":429,"count":-5}`,
		`{"route":"/x","status_code":429,"count":3}`,
	} {
		ev.Data = json.RawMessage(data)
		if _, err := audit.NewEntry(ev, received); !errors.Is(err, audit.ErrInvalidEvent) {
			t.Errorf("NewEntry(%s) = %v, want ErrInvalidEvent", data, err)
		}
	}
}

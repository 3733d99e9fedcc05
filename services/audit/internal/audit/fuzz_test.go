package audit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// FuzzParseCursor checks that ParseCursor never panics, refuses with a
// validation fault on "cursor", and that a cursor it reads has an event id
// and a UTC time, and reads back the same from its String.
func FuzzParseCursor(f *testing.F) {
	f.Add(audit.Cursor{Time: time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC), EventID: "0b9d1f3e-6a4e-4c55-9d36-1c9c0f6f2f00"}.String())
	f.Add(audit.Cursor{Time: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), EventID: "id with spaces"}.String())
	enc := base64.RawURLEncoding.EncodeToString
	for _, raw := range []string{
		"2026-03-14T15:09:26Z e", "2026-03-14T15:09:26+05:30 e", "2026-03-14T15:09:26.123456789Z e",
		"0000-01-01T00:00:00Z e", "0000-01-01T00:00:00+01:00 e", "9999-12-31T23:59:59-01:00 e",
		"2026-03-14T15:09:26Z ", "2026-03-14T15:09:26Z", " e", "2026-03-14 e", "2026-03-14T25:00:00Z e",
		"2026-03-14T15:09:26Z \x00\xff", "2026-03-14T15:09:26Z " + strings.Repeat("e", 200),
	} {
		f.Add(enc([]byte(raw)))
	}
	f.Add("")
	f.Add("!!!")
	f.Add(strings.Repeat("A", 201))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := audit.ParseCursor(s)
		if err != nil {
			fe, ok := errors.AsType[*fault.Error](err)
			if !ok || fe.Kind != fault.Validation || len(fe.Fields) != 1 || fe.Fields[0].Field != "cursor" {
				t.Fatalf("ParseCursor(%q) = %v, want a validation fault on cursor", s, err)
			}
			return
		}
		if c.EventID == "" || c.Time.Location() != time.UTC {
			t.Fatalf("ParseCursor(%q) = %v, %q, want a UTC time and an event id", s, c.Time, c.EventID)
		}
		again, err := audit.ParseCursor(c.String())
		if err != nil || !again.Time.Equal(c.Time) || again.EventID != c.EventID {
			t.Fatalf("ParseCursor(%q) = %v, %q, but ParseCursor(%q) = %v, %q, %v", s, c.Time, c.EventID, c.String(), again.Time, again.EventID, err)
		}
	})
}

// FuzzParseRequestID checks that ParseRequestID, which reads the ticket id
// of a logged call's path, reads exactly what the tickets service accepts
// as a path id (web.ParseID with the REQ prefix), and 0 for the rest.
func FuzzParseRequestID(f *testing.F) {
	for _, s := range []string{"17", "REQ000017", "req17", "REQ", "REQ0", "0", "-1", "+1", "REQ-1", " 1", "9223372036854775808", "", "ＲＥＱ1", "my"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, err := web.ParseID(raw, "REQ")
		if err != nil {
			want = 0
		}
		if got := audit.ParseRequestID(raw); got != want {
			t.Fatalf("ParseRequestID(%q) = %d, but the tickets service reads %d", raw, got, want)
		}
	})
}

// checkCall checks what CallOf promises of a call it reads.
func checkCall(t *testing.T, c *audit.Call) {
	t.Helper()
	if strings.TrimSpace(c.Method) == "" || c.Method != strings.ToUpper(c.Method) || c.StatusCode < 100 || c.StatusCode > 599 ||
		c.ProcessTime < 0 || math.IsNaN(c.ProcessTime) || math.IsInf(c.ProcessTime, 0) || c.Count < 1 {
		t.Fatalf("call %+v breaks the rules of a call", c)
	}
	if lat, ok := c.Latency(); ok == c.Aggregate || lat < 0 {
		t.Fatalf("call %+v: latency %v, %v", c, lat, ok)
	}
	if action, id := audit.ReadAction(*c); (action != "" && !audit.ValidAction(action)) || id < 0 {
		t.Fatalf("call %+v reads as action %q on %d", c, action, id)
	}
}

// FuzzCallOf checks that CallOf never panics on any data, reads no call for
// other types, fails only with ErrInvalidEvent, and that a call it reads
// keeps the rules of a call (see CallOf) and reads as a known action or
// none.
func FuzzCallOf(f *testing.F) {
	for _, s := range []string{
		`{"method":"get","route":"/user_request/:id","path":"/user_request/REQ000017","status_code":200,"process_time":0.0123,"user_id":3,"role":"user"}`,
		`{"method":"GET","route":"/user_request/my/","path":"/user_request/my/","status_code":304,"process_time":0}`,
		`{"method":"GET","route":"/user_request/:id","path":"/user_request/","status_code":200}`,
		`{"method":"POST","route":"/auth/login","status_code":429,"count":12,"ip_address":"10.0.0.1"}`,
		`{"method":" ","status_code":200}`, `{"method":"GET","status_code":99}`, `{"method":"GET","status_code":600}`,
		`{"method":"GET","status_code":200,"process_time":-1}`, `{"method":"GET","status_code":200,"process_time":1e400}`,
		`{"method":"GET","status_code":200,"count":0}`, `{"method":"GET","status_code":200.5}`, `{"method":"ǆ","status_code":200}`,
		`{"method":"GET","status_code":200,"user_id":"3"}`, `null`, `[]`, `"x"`, `{}`, ``, `{"method":`,
	} {
		f.Add(events.TypeAPIRequest, []byte(s))
		f.Add(events.TypeAPIRefused, []byte(s))
	}
	f.Add(events.TypeTicketCreated, []byte(`{}`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		c, err := audit.CallOf(typ, data)
		switch {
		case !audit.IsCallType(typ):
			if c != nil || err != nil {
				t.Fatalf("CallOf(%q) = %+v, %v, want no call", typ, c, err)
			}
		case err != nil:
			if !errors.Is(err, audit.ErrInvalidEvent) {
				t.Fatalf("CallOf(%q, %q) = %v, want ErrInvalidEvent", typ, data, err)
			}
		default:
			checkCall(t, c)
			if c.Aggregate != (typ == events.TypeAPIRefused) {
				t.Fatalf("CallOf(%q, %q) = %+v: aggregate is not the type's", typ, data, c)
			}
		}
	})
}

// FuzzNewEntry checks that NewEntry never panics on any event the bus may
// deliver, fails only with ErrInvalidEvent, and derives an entry that keeps
// the event's data (a JSON object) and envelope, with a well-formed trace
// id, a known action or none, a non-negative ticket id and, exactly for the
// API call types, a call that keeps the rules of a call.
func FuzzNewEntry(f *testing.F) {
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		typ, data, traceparent string
	}{
		{events.TypeTicketCreated, `{"before":null,"after":{"id":17,"text":"x"}}`, trace},
		{events.TypeTicketDeleted, `{"before":{"id":17},"after":null}`, ""},
		{events.TypeTicketUpdated, `{"before":{"id":"17"},"after":{"id":-1}}`, "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		{events.TypeTicketCommentAdded, ` {"After":{"ID":1e30}} `, "garbage"},
		{events.TypeAPIRequest, `{"method":"GET","route":"/user_request/:id","path":"/user_request/17","status_code":200,"process_time":0.01,"user_id":3,"role":"user"}`, trace},
		{events.TypeAPIRefused, `{"method":"POST","route":"/auth/login","status_code":429,"count":3}`, ""},
		{events.TypeAPIRequest, `{"method":"","status_code":200}`, ""},
		{events.TypeUserRegistered, `{"user":{"id":1}}`, trace},
		{"support.ticket.", `{}`, ""},
		{events.TypeTicketCreated, `[]`, ""},
		{events.TypeTicketCreated, `null`, ""},
		{events.TypeTicketCreated, `{"a":`, ""},
		{events.TypeTicketCreated, "{\"a\":\"\xff\"}", ""},
		{events.TypeTicketCreated, `{"after":` + strings.Repeat(`{"a":`, 300) + strings.Repeat("}", 300) + `}`, ""},
		{events.TypeTicketCreated, ``, ""},
	} {
		f.Add(tc.typ, []byte(tc.data), tc.traceparent, "3")
	}
	received := time.Date(2026, 3, 14, 15, 9, 27, 0, time.FixedZone("MSK", 3*3600))
	f.Fuzz(func(t *testing.T, typ string, data []byte, traceparent, actorID string) {
		ev := events.Event{
			SpecVersion: events.SpecVersion, ID: "e1", Source: events.SourceGateway, Type: typ, Subject: "REQ000017",
			Time: time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("", 5*3600)), DataContentType: "application/json",
			Data: data, ActorID: actorID, ActorRole: "user", TraceParent: traceparent,
		}
		e, err := audit.NewEntry(ev, received)
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidEvent) {
				t.Fatalf("NewEntry(%q, %q) = %v, want ErrInvalidEvent", typ, data, err)
			}
			return
		}
		if !json.Valid(e.Data) || !bytes.HasPrefix(e.Data, []byte("{")) || !bytes.Equal(e.Data, bytes.TrimSpace(data)) {
			t.Fatalf("NewEntry(%q, %q): data %q, want the event's JSON object", typ, data, e.Data)
		}
		if e.EventID != ev.ID || e.Type != typ || !e.Time.Equal(ev.Time) || e.Time.Location() != time.UTC ||
			!e.ReceivedAt.Equal(received) || e.ReceivedAt.Location() != time.UTC {
			t.Fatalf("NewEntry(%q, %q) = %+v, want the event's envelope in UTC", typ, data, e)
		}
		if len(e.TraceID) != 0 && (len(e.TraceID) != 32 || strings.Trim(e.TraceID, "0123456789abcdef") != "") {
			t.Fatalf("NewEntry(traceparent %q): trace id %q", traceparent, e.TraceID)
		}
		if (e.Action != "" && !audit.ValidAction(e.Action)) || e.RequestID < 0 || e.Weight() < 1 {
			t.Fatalf("NewEntry(%q, %q) = %+v: action, ticket or weight", typ, data, e)
		}
		if (e.Call != nil) != audit.IsCallType(typ) {
			t.Fatalf("NewEntry(%q, %q): call %+v", typ, data, e.Call)
		}
		if e.Call != nil {
			checkCall(t, e.Call)
		}
		before, after := e.Change()
		for _, part := range []json.RawMessage{before, after} {
			if part != nil && !json.Valid(part) {
				t.Fatalf("NewEntry(%q, %q): change part %q is not JSON", typ, data, part)
			}
		}
	})
}

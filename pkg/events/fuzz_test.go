package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// FuzzDecode checks that Decode, as every consumer reads a message, never
// panics, that what it returns validates, and that a decoded event
// round-trips: json.Marshal encodes it, and decoding that gives the same
// event (the data the same JSON value), whose encoding is the same bytes.
func FuzzDecode(f *testing.F) {
	ev, err := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, "REQ000001",
		events.Actor{ID: "3", Role: "user"}, events.TicketCreated{After: events.Ticket{ID: 1, Text: "printer <on> fire & smoke"}})
	if err != nil {
		f.Fatal(err)
	}
	valid, err := json.Marshal(ev)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, s := range []string{
		`{"specversion":"1.0","id":"1","source":"/s","type":"support.a.b.v1","time":"2026-03-14T15:09:26.535897Z","datacontenttype":"application/json","data":{}}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"support.a.b.v1","time":"2026-03-14T15:09:26+05:30","data":null}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"support.a.b.v1","time":"0000-01-01T00:00:00+01:00","data":[1, 2 ,3]}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"support.a.b.v1","time":"9999-12-31T23:59:59-23:59","data":"x"}`,
		`{"specversion":"1.0","id":"\u0000","source":"\ud800","type":"support..v","time":"2026-01-01T00:00:00Z","data":{"a":"<&>","a":1}}`,
		"{\"specversion\":\"1.0\",\"id\":\"\xff\",\"source\":\"/s\",\"type\":\"support.a.b.v1\",\"time\":\"2026-01-01T00:00:00Z\",\"data\":{\"\xfe\":1}}",
		`{"SPECVERSION":"1.0","Id":"1","source":"/s","type":"support.a.b.v1","time":"2026-01-01T00:00:00Z","data":1e999}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"support.a.b.v1","time":"2026-01-01T00:00:00Z","data":{"deep":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `}}`,
		`{"specversion":"1.0","id":"1","source":"/s","type":"support.a.b.v1","time":"2026-01-01T24:00:00Z","data":{}}`,
		`{"specversion":"0.3"}`,
		`{}`, `null`, `[]`, ``, `{"data":`, strings.Repeat("[", 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := events.Decode(b)
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("Decode(%q) returned an event that does not validate: %v", b, err)
		}
		out, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("Decode(%q) returned an event json.Marshal refuses: %v", b, err)
		}
		again, err := events.Decode(out)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, encoded as %s, which does not decode: %v", b, ev, out, err)
		}
		if !sameEvent(ev, again) {
			t.Fatalf("Decode(%q) = %+v, but after a round trip through %s: %+v", b, ev, out, again)
		}
		if out2, err := json.Marshal(again); err != nil || string(out2) != string(out) {
			t.Fatalf("event %s encodes again as %s, %v", out, out2, err)
		}
	})
}

// sameEvent reports whether a and b are the same event: equal attributes,
// the same instant and the same data but for the spacing and HTML escaping
// json.Marshal applies to it.
func sameEvent(a, b events.Event) bool {
	if !a.Time.Equal(b.Time) || !bytes.Equal(normalJSON(a.Data), normalJSON(b.Data)) {
		return false
	}
	a.Time, a.Data, b.Data = b.Time, nil, nil
	return reflect.DeepEqual(a, b)
}

// normalJSON is raw compacted and HTML-escaped, as json.Marshal writes a
// json.RawMessage; nil when raw is not JSON.
func normalJSON(raw []byte) []byte {
	var compact, escaped bytes.Buffer
	if json.Compact(&compact, raw) != nil {
		return nil
	}
	json.HTMLEscape(&escaped, compact.Bytes())
	return escaped.Bytes()
}

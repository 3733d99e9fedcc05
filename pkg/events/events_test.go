package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/events"
)

func TestNewCarriesTraceAndRoundTrips(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))

	ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCreated, "REQ000001",
		events.Actor{ID: "1", Role: "user"}, events.TicketCreated{After: events.Ticket{ID: 1, Text: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"; ev.TraceParent != want {
		t.Errorf("traceparent = %q, want %q", ev.TraceParent, want)
	}
	if ev.Topic() != "support.ticket.created" {
		t.Errorf("Topic = %q", ev.Topic())
	}

	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{`"specversion":"1.0"`, `"datacontenttype":"application/json"`, `"actorid":"1"`, `"actorrole":"user"`} {
		if !strings.Contains(string(raw), attr) {
			t.Errorf("encoded event lacks %s: %s", attr, raw)
		}
	}
	got, err := events.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	var data events.TicketCreated
	if err := got.DecodeData(&data); err != nil || data.After.Text != "hi" {
		t.Errorf("DecodeData = %+v, %v", data, err)
	}
	if sc := trace.SpanContextFromContext(got.Context(context.Background())); sc.TraceID() != tid {
		t.Errorf("Context trace id = %s", sc.TraceID())
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := map[string]string{
		"not json":      `{`,
		"wrong version": `{"specversion":"0.3","id":"1","source":"s","type":"support.a.b.v1","time":"2026-01-01T00:00:00Z","data":{}}`,
		"no id":         `{"specversion":"1.0","source":"s","type":"support.a.b.v1","time":"2026-01-01T00:00:00Z","data":{}}`,
		"foreign type":  `{"specversion":"1.0","id":"1","source":"s","type":"com.example.x","time":"2026-01-01T00:00:00Z","data":{}}`,
		"unversioned":   `{"specversion":"1.0","id":"1","source":"s","type":"support.a.b","time":"2026-01-01T00:00:00Z","data":{}}`,
		"no data":       `{"specversion":"1.0","id":"1","source":"s","type":"support.a.b.v1","time":"2026-01-01T00:00:00Z"}`,
		"data not json": `{"specversion":"1.0","id":"1","source":"s","type":"support.a.b.v1","time":"2026-01-01T00:00:00Z","data":{"a":}}`,
		"no time":       `{"specversion":"1.0","id":"1","source":"s","type":"support.a.b.v1","data":{}}`,
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := events.Decode([]byte(raw)); err == nil {
				t.Error("Decode accepted an invalid event")
			}
		})
	}
}

func TestTopic(t *testing.T) {
	for typ, want := range map[string]string{
		"support.ticket.created.v1": "support.ticket.created",
		"support.user.deleted.v12":  "support.user.deleted",
	} {
		if got := events.Topic(typ); got != want {
			t.Errorf("Topic(%q) = %q, want %q", typ, got, want)
		}
	}
}

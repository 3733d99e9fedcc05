package events_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// BenchmarkEncodeTicketCreated builds and encodes the event of a ticket's
// creation, as the tickets service does once per create (into its outbox).
func BenchmarkEncodeTicketCreated(b *testing.B) {
	title, category := "Printer jams", "hardware"
	t := events.Ticket{ID: 1234, DisplayID: "REQ001234", OwnerID: 42, Title: &title, Text: "The printer on floor 3 jams again",
		Status: "new", Priority: "normal", Category: &category, Version: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	actor := events.Actor{ID: "42", Role: "user"}
	b.ReportAllocs()
	for b.Loop() {
		ev, err := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, t.DisplayID, actor,
			events.TicketCreated{After: t})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAPIRequest decodes the event of one API call, as every
// consumer of the stream does for every request the gateway answers.
func BenchmarkDecodeAPIRequest(b *testing.B) {
	user := int64(42)
	ev, err := events.New(context.Background(), events.SourceGateway, events.TypeAPIRequest, "/user_request/1234",
		events.Actor{ID: "42", Role: "user"}, events.APIRequest{Method: "GET", Route: "/user_request/:id",
			Path: "/user_request/1234", StatusCode: 200, ProcessTime: 0.0012, IPAddress: "127.0.0.1",
			UserAgent: "bench", UserID: &user, Role: "user", RequestID: "6f1c1d8e-8f57-4a55-9a53-3d1f7a0f2b11"})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

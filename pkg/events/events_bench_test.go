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

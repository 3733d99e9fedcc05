package api

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// BenchmarkCSVRow is the export's cost per ticket once the row is read:
// neutralising each cell and writing the CSV record (one in three rows
// has cells that need neutralising, as in BenchmarkExport).
func BenchmarkCSVRow(b *testing.B) {
	rows := []ticket.ExportRow{
		{ID: 1, Title: "Printer jams", Text: `The printer on floor 3 says "PC LOAD LETTER", again`, Status: ticket.StatusNew,
			Priority: ticket.PriorityHigh, Category: "hardware", OwnerEmail: "owner@example.com", OwnerFirstName: "Ivan",
			OwnerLastName: "Petrov", OwnerINN: "123456789012", OwnerPhone: "+7-900-123-4567", CreatedAt: time.Now(), UpdatedAt: time.Now()},
		{ID: 2, Title: "=HYPERLINK(\"x\")", Text: "+1 still broken; -2 floors", Status: ticket.StatusInProgress,
			Priority: ticket.PriorityLow, StaffComment: "@looking", OwnerEmail: "o@example.com", StaffEmail: "staff@example.com",
			CreatedAt: time.Now(), UpdatedAt: time.Now()},
		{ID: 3, Title: "Monitor", Text: "Flickers", Status: ticket.StatusClosed, Priority: ticket.PriorityNormal,
			OwnerEmail: "p@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()},
	}
	e := newCSVExport(httptest.NewRecorder())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.row(rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

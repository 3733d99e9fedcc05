package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/api"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// createOnly is a store that keeps nothing: it builds and encodes the
// create's events, as the real store does into its outbox, and returns
// the ticket it was given.
type createOnly struct {
	ticket.Store
}

func (s *createOnly) Create(_ context.Context, t ticket.Ticket, _ *ticket.Idempotency, evs func(ticket.Ticket) ([]events.Event, error)) (ticket.View, error) {
	t.ID, t.Version, t.CreatedAt, t.UpdatedAt = 1, 1, time.Now(), time.Now()
	out, err := evs(t)
	if err != nil {
		return ticket.View{}, err
	}
	if _, err := json.Marshal(out); err != nil {
		return ticket.View{}, err
	}
	return ticket.View{Ticket: t, Owner: ticket.User{ID: t.OwnerID, Email: "owner@example.com", Role: access.RoleUser}}, nil
}

// BenchmarkCreateRequest is the tickets service's own work for one create,
// without the database: token check, strict decoding and validation of the
// body, the event built and encoded, the answer encoded.
func BenchmarkCreateRequest(b *testing.B) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Hour)
	tok, _, err := tm.Issue(42, access.RoleUser, "s")
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := web.NewEngine(logger, prometheus.NewRegistry())
	api.New(ticket.NewService(&createOnly{}, defaultPolicy(b)), nil, tm, logger).Routes(engine)
	const body = `{"title":"Printer jams","text":"The printer on floor 3 jams again","priority":"high","category":"hardware"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/user_request/", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("create = %d: %s", rec.Code, rec.Body)
		}
	}
}

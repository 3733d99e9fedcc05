package eventdoc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/supportdesk/supportdesk/pkg/eventdoc"
	"github.com/supportdesk/supportdesk/pkg/events"
)

func TestEveryTypeIsDocumented(t *testing.T) {
	v, err := eventdoc.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		events.TypeAPIRequest, events.TypeAPIRefused, events.TypeTicketAssigned, events.TypeTicketCommentAdded, events.TypeTicketCreated,
		events.TypeTicketDeleted, events.TypeTicketSLABreached, events.TypeTicketStatusChanged, events.TypeTicketUnassigned, events.TypeTicketUpdated,
		events.TypeUserDeleted, events.TypeUserLoggedIn, events.TypeUserLoggedOut, events.TypeUserLoginFailed,
		events.TypeUserPasswordChanged, events.TypeUserProfileUpdated, events.TypeUserRefreshReused, events.TypeUserRegistered,
		events.TypeUserRoleChanged, events.TypeWebhookDeactivated,
	}
	if got := strings.Join(v.Types(), " "); got != strings.Join(sorted(want), " ") {
		t.Errorf("documented types:\n%s\nwant:\n%s", got, strings.Join(sorted(want), " "))
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func encode(t *testing.T, source, typ string, data any) []byte {
	t.Helper()
	ev, err := events.New(context.Background(), source, typ, "REQ000001", events.Actor{ID: "3", Role: "user"}, data)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestValidate(t *testing.T) {
	v, err := eventdoc.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tk := events.Ticket{ID: 1, DisplayID: "REQ000001", OwnerID: 3, Text: "hi", Status: "new", Priority: "normal", Version: 1, CreatedAt: now, UpdatedAt: now}
	good := encode(t, events.SourceTickets, events.TypeTicketCreated, events.TicketCreated{After: tk})
	if err := v.Validate(good); err != nil {
		t.Errorf("a valid event: %v", err)
	}
	off := time.Now().Add(-120 * time.Hour).UTC()
	deactivated := encode(t, events.SourceWebhooks, events.TypeWebhookDeactivated, events.WebhookDeactivated{
		Webhook: events.Webhook{ID: "0b7e4c52-6a3e-4d6f-9d52-2f7f0f4c2a11", URL: "https://hooks.example.com/x", EventTypes: []string{events.TypeTicketCreated}, FailingSince: &off},
		Reason:  "every delivery failed"})
	if err := v.Validate(deactivated); err != nil {
		t.Errorf("a valid deactivation: %v", err)
	}
	breach := encode(t, events.SourceTickets, events.TypeTicketSLABreached, events.TicketSLABreached{Kind: "first_response", DueAt: now, Ticket: tk})
	if err := v.Validate(breach); err != nil {
		t.Errorf("a valid breach: %v", err)
	}
	// The official CloudEvents SDK reads what we publish.
	var ce cloudevents.Event
	if err := json.Unmarshal(good, &ce); err != nil {
		t.Fatalf("CloudEvents SDK: %v", err)
	}
	if ce.Type() != events.TypeTicketCreated || ce.Extensions()["actorid"] != "3" {
		t.Errorf("SDK view = %v", ce)
	}

	bad := map[string][]byte{
		"wrong source":       encode(t, events.SourceAuth, events.TypeTicketCreated, events.TicketCreated{After: tk}),
		"bad status":         encode(t, events.SourceTickets, events.TypeTicketCreated, events.TicketCreated{After: func() events.Ticket { x := tk; x.Status = "done"; return x }()}),
		"missing after":      encode(t, events.SourceTickets, events.TypeTicketCreated, map[string]any{"before": nil}),
		"password in a user": encode(t, events.SourceAuth, events.TypeUserRegistered, map[string]any{"user": map[string]any{"id": 1, "display_id": "USR000001", "email": "a@b.c", "role": "user", "active": true, "password": "x"}, "created_at": now}),
		"query in a path":    encode(t, events.SourceGateway, events.TypeAPIRequest, events.APIRequest{Method: "GET", Route: "/x", Path: "/x?token=1"}),
		"unknown SLA clock":  encode(t, events.SourceTickets, events.TypeTicketSLABreached, events.TicketSLABreached{Kind: "reply", DueAt: now, Ticket: tk}),
		"unknown type":       []byte(`{"specversion":"1.0","id":"1","source":"/x","type":"support.x.y.v1","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{}}`),
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			if err := v.Validate(raw); err == nil {
				t.Error("accepted")
			}
		})
	}
}

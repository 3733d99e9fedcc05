package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/eventdoc"
)

// TestEveryEventMatchesTheAsyncAPIDocument causes one event of every type
// through the API, then reads the whole stream: each event validates against
// the schema of its type in the AsyncAPI document and decodes with the
// official CloudEvents SDK.
func TestEveryEventMatchesTheAsyncAPIDocument(t *testing.T) {
	s := startSystem(t, "RATE_LIMIT_USER_PER_MINUTE=40", "SLA_POLICY=urgent=1s/1h,normal=8h/72h",
		"WEBHOOK_ALLOW_PRIVATE=true", "WEBHOOK_RETRY_SCHEDULE=100ms", "WEBHOOK_DISABLE_AFTER=50ms")
	admin := s.login(adminEmail, adminPassword)
	// A webhook whose receiver always fails: deactivated at its second failure.
	failing := newHookReceiver(t, 500)
	s.json(201, "POST", "/admin/webhooks", admin, map[string]any{"url": failing.URL, "event_types": []string{"support.ticket.created.v1"}})

	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "ev@example.com", "password": "Ev3ntsPassw0rd"})
	s.json(401, "POST", "/auth/login", "", map[string]string{"email": "ev@example.com", "password": "Wr0ngPassw0rd"})
	tok := s.login("ev@example.com", "Ev3ntsPassw0rd")
	// Reuse a refresh token of another session: reuse kills its session.
	_, spare := s.json(200, "POST", "/auth/login", "", map[string]string{"email": "ev@example.com", "password": "Ev3ntsPassw0rd"})
	s.json(200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": spare["refresh_token"].(string)})
	s.json(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": spare["refresh_token"].(string)})
	s.json(200, "PUT", "/auth/profile", tok, map[string]any{"first_name": "Eve"})

	_, staff := s.json(201, "POST", "/staff/register", admin, map[string]any{"email": "evstaff@company.com", "password": "St4ffPassw0rdX"})
	staffTok := s.login("evstaff@company.com", "St4ffPassw0rdX")
	_, tk := s.json(201, "POST", "/user_request/", tok, map[string]any{"text": "events"})
	id := fmt.Sprint(tk["id"])
	s.json(200, "PUT", "/user_request/"+id, tok, map[string]any{"title": "All of them"})
	s.json(201, "POST", "/user_request/"+id+"/comments", tok, map[string]any{"body": "hi"})
	s.waitFor("the staff member in the directory", 5*time.Second, func() bool {
		resp, _ := s.call("POST", "/staff/requests/"+id+"/assign", admin, map[string]any{"staff_id": staff["id"]})
		return resp.StatusCode == 200
	})
	s.json(200, "PUT", "/staff/requests/"+id+"/status", staffTok, map[string]any{"status": "new"}) // unassigns
	// An urgent ticket nobody answers within its second: an SLA breach.
	s.json(201, "POST", "/user_request/", tok, map[string]any{"text": "unanswered", "priority": "urgent"})
	_, tk2 := s.json(201, "POST", "/user_request/", tok, map[string]any{"text": "to delete"})
	s.json(200, "DELETE", fmt.Sprint("/user_request/", tk2["id"]), tok, nil)
	s.json(200, "POST", "/auth/change-password", tok, map[string]string{"current_password": "Ev3ntsPassw0rd", "new_password": "N3wEv3ntsPassw0rd"})
	if resp, _ := s.call("POST", "/auth/logout", tok, nil); resp.StatusCode != 204 {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	_, other := s.json(201, "POST", "/auth/register", "", map[string]any{"email": "gone@example.com", "password": "G0nePassw0rdX"})
	s.json(200, "PUT", fmt.Sprint("/admin/users/", other["id"], "/role"), admin, map[string]any{"role": "staff"})
	s.json(200, "DELETE", fmt.Sprint("/admin/staff/", other["id"]), admin, nil)
	// Past the rate limit: the refusals are counted, and the gateway
	// publishes the count when the minute is over, or when it stops.
	flood := s.login("user@company.com", "SecureUserPass123!")
	refused := 0
	for range 45 {
		if resp, _ := s.call("GET", "/auth/profile", flood, nil); resp.StatusCode == 429 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no request was refused")
	}
	if err := s.stop("gateway"); err != nil {
		t.Fatalf("gateway stop: %v", err)
	}

	v, err := eventdoc.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, typ := range v.Types() {
		want[typ] = true
	}

	nc, js, err := bus.Connect(s.natsURL, "e2e-reader")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]int{}
	s.waitFor("one event of every type on the stream", 20*time.Second, func() bool {
		seen = readAll(t, ctx, js, v)
		for typ := range want {
			if seen[typ] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("events by type: %v", seen)
}

// readAll reads the stream from the start, validating and decoding each event.
func readAll(t *testing.T, ctx context.Context, js jetstream.JetStream, v *eventdoc.Validator) map[string]int {
	t.Helper()
	cons, err := js.OrderedConsumer(ctx, bus.StreamName, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Validate(msg.Data()); err != nil {
			t.Errorf("%s: %v\n%s", msg.Subject(), err, msg.Data())
		}
		var ce cloudevents.Event
		if err := json.Unmarshal(msg.Data(), &ce); err != nil {
			t.Errorf("%s: the CloudEvents SDK cannot decode it: %v", msg.Subject(), err)
		} else if err := ce.Validate(); err != nil {
			t.Errorf("%s: the CloudEvents SDK finds it invalid: %v", msg.Subject(), err)
		}
		if msg.Headers().Get("Nats-Msg-Id") != ce.ID() {
			t.Errorf("%s: Nats-Msg-Id %q is not the event id %q", msg.Subject(), msg.Headers().Get("Nats-Msg-Id"), ce.ID())
		}
		seen[ce.Type()]++
	}
	return seen
}

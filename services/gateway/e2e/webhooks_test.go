package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/supportdesk/supportdesk/pkg/bus"
)

// hookReceiver is a webhook receiver on loopback recording what it got.
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []hookRequest
	status   int
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	r := &hookReceiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, hookRequest{req.Header.Clone(), body})
		code := r.status
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) got() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.requests...)
}

// TestWebhooks drives the webhooks API through the gateway like an admin:
// register, receive a signed delivery of a ticket event, read the delivery
// log, rotate the secret, pause, delete. Receivers are on loopback, so the
// system runs with WEBHOOK_ALLOW_PRIVATE (the refusal without it is in the
// security battery).
func TestWebhooks(t *testing.T) {
	s := startSystem(t, "WEBHOOK_ALLOW_PRIVATE=true")
	admin := s.login(adminEmail, adminPassword)
	user := s.login("user@company.com", "SecureUserPass123!")
	r := newHookReceiver(t, 200)

	_, hook := s.json(201, "POST", "/admin/webhooks", admin, map[string]any{
		"url": r.URL + "/support", "event_types": []string{"support.ticket.created.v1", "support.ticket.created.v1"}, "description": "CRM sync"})
	id, secret := hook["id"].(string), hook["secret"].(string)
	if hook["active"] != true || fmt.Sprint(hook["event_types"]) != "[support.ticket.created.v1]" || hook["description"] != "CRM sync" {
		t.Errorf("created = %v", hook)
	}
	_, got := s.json(200, "GET", "/admin/webhooks/"+id, admin, nil)
	if _, shown := got["secret"]; shown || got["url"] != r.URL+"/support" {
		t.Errorf("GET shows %v; the secret is shown only at creation and rotation", got)
	}
	_, list := s.json(200, "GET", "/admin/webhooks", admin, nil)
	if list["total"] != float64(1) {
		t.Errorf("list = %v", list)
	}
	s.json(403, "GET", "/admin/webhooks", user, nil)
	s.json(422, "POST", "/admin/webhooks", admin, map[string]any{"url": r.URL, "event_types": []string{"support.api.request.v1"}})
	s.json(422, "POST", "/admin/webhooks", admin, map[string]any{"url": "ftp://example.com/", "event_types": []string{"support.ticket.created.v1"}})
	s.json(422, "GET", "/admin/webhooks/not-a-uuid", admin, nil)
	s.json(404, "GET", "/admin/webhooks/0b7e4c52-6a3e-4d6f-9d52-2f7f0f4c2a11", admin, nil)

	// A ticket's creation arrives signed, its body the CloudEvent as published.
	_, tk := s.json(201, "POST", "/user_request/", user, map[string]any{"text": "Webhook me"})
	var first hookRequest
	s.waitFor("the delivery", 10*time.Second, func() bool {
		reqs := r.got()
		if len(reqs) > 0 {
			first = reqs[0]
		}
		return len(reqs) > 0
	})
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(first.body, first.header); err != nil {
		t.Errorf("the delivery does not verify with the secret: %v", err)
	}
	var ev struct {
		ID, Type, Subject string
		Data              struct{ After struct{ ID float64 } }
	}
	if err := json.Unmarshal(first.body, &ev); err != nil || ev.Type != "support.ticket.created.v1" || ev.ID != first.header.Get("webhook-id") ||
		ev.Data.After.ID != tk["id"] {
		t.Errorf("delivered %s (%v), webhook-id %q", first.body, err, first.header.Get("webhook-id"))
	}
	if published := publishedEvent(t, s, ev.ID); string(published) != string(first.body) {
		t.Errorf("the body is not the event as published:\n got %s\nwant %s", first.body, published)
	}
	var deliveries map[string]any
	s.waitFor("the delivery in the log", 5*time.Second, func() bool {
		_, deliveries = s.json(200, "GET", "/admin/webhooks/"+id+"/deliveries", admin, nil)
		return deliveries["total"] == float64(1)
	})
	d := deliveries["items"].([]any)[0].(map[string]any)
	if d["event_id"] != ev.ID || d["attempt"] != float64(1) || d["status_code"] != float64(200) || d["error"] != nil {
		t.Errorf("delivery log = %v", d)
	}

	// A new secret signs what follows; the old one no longer verifies.
	_, rotated := s.json(200, "POST", "/admin/webhooks/"+id+"/rotate-secret", admin, nil)
	newSecret := rotated["secret"].(string)
	if newSecret == secret {
		t.Fatal("rotation kept the secret")
	}
	s.json(201, "POST", "/user_request/", user, map[string]any{"text": "After rotation"})
	s.waitFor("the second delivery", 10*time.Second, func() bool { return len(r.got()) >= 2 })
	second := r.got()[1]
	whNew, _ := standardwebhooks.NewWebhook(newSecret)
	if whNew.Verify(second.body, second.header) != nil || wh.Verify(second.body, second.header) == nil {
		t.Error("after rotation, a delivery is not signed with the new secret only")
	}

	// Paused: nothing is sent. Deleted: gone.
	_, paused := s.json(200, "PATCH", "/admin/webhooks/"+id, admin, map[string]any{"active": false})
	if paused["active"] != false {
		t.Errorf("paused = %v", paused)
	}
	s.json(201, "POST", "/user_request/", user, map[string]any{"text": "While paused"})
	time.Sleep(2 * time.Second)
	if n := len(r.got()); n != 2 {
		t.Errorf("%d deliveries after pausing, want still 2", n)
	}
	if resp, body := s.call("DELETE", "/admin/webhooks/"+id, admin, nil); resp.StatusCode != 204 {
		t.Errorf("delete = %d %s", resp.StatusCode, body)
	}
	s.json(404, "GET", "/admin/webhooks/"+id, admin, nil)
}

// publishedEvent returns the bytes of the event id as the stream holds it.
func publishedEvent(t *testing.T, s *system, id string) []byte {
	t.Helper()
	nc, js, err := bus.Connect(s.natsURL, "e2e-webhooks")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"support.ticket.created"}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("event %s not on the stream: %v", id, err)
		}
		if msg.Headers().Get("Nats-Msg-Id") == id {
			return msg.Data()
		}
	}
}

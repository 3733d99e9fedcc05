package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
)

// TestSLABreaches runs three tickets replicas on a policy of seconds: every
// clock that passes its due time unmet is published once, within 2 s of
// the due time, and the tickets, lists and statistics show it through the
// gateway; a clock met in time is never breached.
func TestSLABreaches(t *testing.T) {
	s := startSystem(t, "SLA_POLICY=urgent=3s/6s,high=1h/2h")
	for _, name := range []string{"tickets2", "tickets3"} {
		s.ports[name] = freePort(t)
		startService(t, filepath.Join(binDir, "tickets"), append(append([]string(nil), s.env...), "TICKETS_ADDR=127.0.0.1:"+s.ports[name]))
		s.waitFor(name+" to be ready", 60*time.Second, func() bool { return healthy("http://127.0.0.1:" + s.ports[name] + "/health/ready") })
	}

	// Every breach event, with when it arrived.
	nc, js, err := bus.Connect(s.natsURL, "e2e-sla")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"support.ticket.sla_breached"}})
	if err != nil {
		t.Fatal(err)
	}
	type breach struct {
		subject, kind string
		due, arrived  time.Time
	}
	var mu sync.Mutex
	var breaches []breach
	consumer, err := cons.Consume(func(msg jetstream.Msg) {
		arrived := time.Now()
		var ev struct {
			Subject string                   `json:"subject"`
			Data    events.TicketSLABreached `json:"data"`
		}
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Errorf("a breach event that does not decode: %v", err)
			return
		}
		mu.Lock()
		breaches = append(breaches, breach{ev.Subject, ev.Data.Kind, ev.Data.DueAt, arrived})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Stop()

	user := s.login("user@company.com", "SecureUserPass123!")
	staff := s.login("staff@company.com", "SecureStaffPass123!")
	admin := s.login(adminEmail, adminPassword)
	// Twelve urgent tickets: staff answer the first four in time; the rest
	// get no answer. One high ticket, whose targets are hours away.
	var urgent []string
	for i := range 12 {
		_, tk := s.json(201, "POST", "/user_request/", user, map[string]any{"text": fmt.Sprintf("urgent %d", i), "priority": "urgent"})
		sla := tk["sla"].(map[string]any)
		if sla["first_response_due_at"] == nil || sla["first_response_breached"] != false {
			t.Fatalf("a new urgent ticket's sla = %v", sla)
		}
		urgent = append(urgent, tk["display_id"].(string))
	}
	_, high := s.json(201, "POST", "/user_request/", user, map[string]any{"text": "high", "priority": "high"})
	for _, id := range urgent[:4] {
		s.json(201, "POST", "/user_request/"+id+"/comments", staff, map[string]any{"body": "looking into it"})
	}

	// 12 resolution breaches and 8 first-response ones.
	s.waitFor("every breach event", 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(breaches) >= 20
	})
	time.Sleep(2 * time.Second) // time for a duplicate to show up
	mu.Lock()
	count := map[string]int{}
	var latest time.Duration
	for _, b := range breaches {
		count[b.subject+" "+b.kind]++
		latest = max(latest, b.arrived.Sub(b.due))
		if late := b.arrived.Sub(b.due); late > 2*time.Second || late < 0 {
			t.Errorf("%s %s breach due %v arrived %v after it", b.subject, b.kind, b.due, late)
		}
	}
	t.Logf("%d breach events, the latest %v after its due time", len(breaches), latest)
	mu.Unlock()
	for i, id := range urgent {
		wantFirst := 1
		if i < 4 {
			wantFirst = 0
		}
		if count[id+" first_response"] != wantFirst || count[id+" resolution"] != 1 {
			t.Errorf("%s: %d first-response and %d resolution breaches, want %d and 1", id, count[id+" first_response"], count[id+" resolution"], wantFirst)
		}
	}
	if len(breaches) != 20 {
		t.Errorf("%d breach events, want 20", len(breaches))
	}

	_, tk := s.json(200, "GET", "/user_request/"+urgent[0], user, nil)
	if sla := tk["sla"].(map[string]any); sla["first_response_breached"] != false || sla["resolution_breached"] != true || sla["first_response_at"] == nil {
		t.Errorf("an answered, unresolved urgent ticket's sla = %v", sla)
	}
	_, page := s.json(200, "GET", "/admin/requests?sla=breached&size=50", admin, nil)
	if page["total"] != float64(12) {
		t.Errorf("sla=breached lists %v tickets, want 12", page["total"])
	}
	_, page = s.json(200, "GET", "/staff/requests?sla=ok&unassigned=true", staff, nil)
	if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["display_id"] != high["display_id"] {
		t.Errorf("sla=ok lists %v, want only %v", items, high["display_id"])
	}
	_, stats := s.json(200, "GET", "/admin/statistics", admin, nil)
	got := stats["sla_by_priority"].(map[string]any)["urgent"].(map[string]any)
	if got["tickets"] != float64(12) || got["first_response_breached"] != float64(8) || got["resolution_breached"] != float64(12) ||
		got["resolution_breach_rate"] != float64(1) {
		t.Errorf("urgent SLA statistics = %v", got)
	}
}

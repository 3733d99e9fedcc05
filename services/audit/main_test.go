package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// syncBuffer collects the service's log lines from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually calls cond until it returns "" or the deadline passes, then
// fails with cond's last complaint.
func eventually(tb testing.TB, timeout time.Duration, cond func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %v: %s", timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type response struct {
	status int
	body   []byte
}

func get(tb testing.TB, url, tok string) (response, error) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	return response{status: res.StatusCode, body: buf.Bytes()}, err
}

type actionsPage struct {
	Items []struct {
		ID        string          `json:"id"`
		Timestamp time.Time       `json:"timestamp"`
		Action    string          `json:"action"`
		EventType string          `json:"event_type"`
		RequestID *int64          `json:"request_id"`
		UserID    *int64          `json:"user_id"`
		Role      *string         `json:"role"`
		Subject   string          `json:"subject"`
		TraceID   *string         `json:"trace_id"`
		Before    json.RawMessage `json:"before"`
		After     json.RawMessage `json:"after"`
	} `json:"items"`
	Total int64 `json:"total"`
	Page  int   `json:"page"`
	Size  int   `json:"size"`
	Pages int64 `json:"pages"`
}

// testEnv is the environment of a service under test.
func testEnv(tb testing.TB, natsURL, mongoURL string) map[string]string {
	tb.Helper()
	return map[string]string{
		"AUDIT_ADDR":       freeAddr(tb),
		"MONGODB_URL":      mongoURL,
		"MONGODB_DATABASE": "audit_e2e",
		"NATS_URL":         natsURL,
		"SECRET_KEY":       testSecret,
		"LOG_LEVEL":        "debug",
	}
}

const testSecret = "e2e-0123456789abcdef0123456789abcdef0123456789abcdef"

// running is a run of the audit service in the test's process.
type running struct {
	base   string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// startService runs the service with env until the test ends, and waits
// until it is ready.
func startService(tb testing.TB, env map[string]string) *running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &running{base: "http://" + env["AUDIT_ADDR"], logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	tb.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
		}
		if tb.Failed() {
			tb.Logf("service log:\n%s", s.logs)
		}
	})
	go func() { s.done <- run(ctx, nil, func(k string) string { return env[k] }, s.logs) }()
	eventually(tb, 30*time.Second, func() string {
		select {
		case err := <-s.done:
			s.done <- err
			tb.Fatalf("run returned during start-up: %v", err)
		default:
		}
		res, err := get(tb, s.base+"/health/ready", "")
		if err != nil {
			return err.Error()
		}
		if res.status != http.StatusOK {
			return fmt.Sprintf("ready = %d %s", res.status, res.body)
		}
		return ""
	})
	return s
}

// stop stops the service and checks that it shut down cleanly.
func (s *running) stop(tb testing.TB) {
	tb.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- nil // for the cleanup
		if err != nil {
			tb.Errorf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("run did not return within 30s of cancel")
	}
}

// issueToken returns an access token of role, signed with testSecret.
func issueToken(tb testing.TB, role access.Role) string {
	tb.Helper()
	tok, _, err := token.NewManager([]byte(testSecret), time.Minute).Issue(1, role, "e2e-session")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// connectDB returns the service's database, for direct inspection.
func connectDB(tb testing.TB, mongoURL, name string) *mongo.Database {
	tb.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(mongoURL))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client.Database(name)
}

func TestRunEndToEnd(t *testing.T) {
	natsURL := natstest.Start(t)
	mongoURL := mongotest.Start(t)
	env := testEnv(t, natsURL, mongoURL)
	svc := startService(t, env)
	ctx := context.Background()
	base := svc.base

	// Publish a ticket event twice under two message ids (so that the
	// stream keeps both and the consumer must de-duplicate), then junk.
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	defer tcancel()
	nc, js, err := bus.Connect(natsURL, "e2e-publisher")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	ev, err := events.New(tctx, events.SourceTickets, events.TypeTicketCreated, "REQ000007",
		events.Actor{ID: "42", Role: "user"}, events.TicketCreated{After: events.Ticket{ID: 7, DisplayID: "REQ000007", OwnerID: 42, Text: "printer", Status: "new"}})
	if err != nil {
		t.Fatal(err)
	}
	ev.TraceParent = "00-" + traceID + "-b7ad6b7169203331-01"
	if err := bus.NewPublisher(js).Publish(tctx, ev); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(tctx, ev.Topic(), raw, jetstream.WithMsgID("redelivered-copy")); err != nil {
		t.Fatal(err)
	}
	const junk = "this is not a CloudEvent"
	if _, err := js.Publish(tctx, "support.ticket.created", []byte(junk)); err != nil {
		t.Fatal(err)
	}

	client, err := mongo.Connect(options.Client().ApplyURI(mongoURL))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	db := client.Database("audit_e2e")

	admin, user := issueToken(t, access.RoleAdmin), issueToken(t, access.RoleUser)
	actionsURL := base + "/admin/logs/request-actions"

	// Done when all three messages are settled, the event is listed and
	// the junk is a dead letter.
	var page actionsPage
	eventually(t, 30*time.Second, func() string {
		info, err := js.Consumer(tctx, bus.StreamName, "audit")
		if err != nil {
			return err.Error()
		}
		ci, err := info.Info(tctx)
		if err != nil {
			return err.Error()
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 || ci.Delivered.Stream < 3 {
			return fmt.Sprintf("consumer: %d pending, %d unacknowledged, %d delivered", ci.NumPending, ci.NumAckPending, ci.Delivered.Stream)
		}
		n, err := db.Collection("dead_letters").CountDocuments(tctx, bson.D{{Key: "data", Value: junk}})
		if err != nil || n != 1 {
			return fmt.Sprintf("%d dead letters of the junk (err %v)", n, err)
		}
		res, err := get(t, actionsURL, admin)
		if err != nil {
			return err.Error()
		}
		if res.status != http.StatusOK {
			return fmt.Sprintf("request-actions = %d %s", res.status, res.body)
		}
		page = actionsPage{}
		if err := json.Unmarshal(res.body, &page); err != nil {
			return err.Error()
		}
		if len(page.Items) == 0 {
			return "the event is not listed yet"
		}
		return ""
	})

	if len(page.Items) != 1 || page.Total != 1 || page.Pages != 1 || page.Page != 1 || page.Size != 50 {
		t.Fatalf("page = %+v, want exactly one item", page)
	}
	it := page.Items[0]
	switch {
	case it.ID != ev.ID, it.Action != "create_request", it.EventType != events.TypeTicketCreated, it.Subject != "REQ000007":
		t.Errorf("item = %+v", it)
	case it.TraceID == nil || *it.TraceID != traceID:
		t.Errorf("trace_id = %v, want %s", it.TraceID, traceID)
	case it.RequestID == nil || *it.RequestID != 7, it.UserID == nil || *it.UserID != 42, it.Role == nil || *it.Role != "user":
		t.Errorf("request/user/role = %v %v %v", it.RequestID, it.UserID, it.Role)
	case string(it.Before) != "null" || !bytes.Contains(it.After, []byte(`"display_id":"REQ000007"`)):
		t.Errorf("before/after = %s / %s", it.Before, it.After)
	case !it.Timestamp.Equal(ev.Time.Truncate(time.Millisecond)):
		t.Errorf("timestamp = %v, want %v", it.Timestamp, ev.Time)
	}
	if n, err := db.Collection("events").CountDocuments(tctx, bson.D{{Key: "_id", Value: ev.ID}}); err != nil || n != 1 {
		t.Errorf("%d documents for the event delivered twice (err %v), want 1", n, err)
	}
	// The second copy was acknowledged as already stored, not dead-lettered.
	if n, err := db.Collection("dead_letters").CountDocuments(tctx, bson.D{}); err != nil || n != 1 {
		t.Errorf("%d dead letters (err %v), want only the junk", n, err)
	}

	for _, tt := range []struct {
		name   string
		query  string
		tok    string
		status int
		want   string // in the body
	}{
		{"no token", "", "", http.StatusUnauthorized, `"status":401`},
		{"user token", "", user, http.StatusForbidden, `"status":403`},
		{"size 0", "?size=0", admin, http.StatusUnprocessableEntity, `"field":"size"`},
		{"hours_ago 500", "?hours_ago=500", admin, http.StatusUnprocessableEntity, `"field":"hours_ago"`},
		{"filters that match", "?request_id=7&user_id=42&action=create_request&hours_ago=1", admin, http.StatusOK, `"total":1`},
		{"filter that does not", "?request_id=8", admin, http.StatusOK, `"total":0`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := get(t, actionsURL+tt.query, tt.tok)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.status || !strings.Contains(string(res.body), tt.want) {
				t.Errorf("got %d %s; want %d with %s", res.status, res.body, tt.status, tt.want)
			}
		})
	}

	svc.stop(t)
}

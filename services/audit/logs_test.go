package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/api"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

// TestRouterIsReadOnly walks the service's own route list: the audit log is
// append-only from the API's point of view, so a route that could change
// or remove a record (any method but GET) fails here.
func TestRouterIsReadOnly(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tm := token.NewManager([]byte(testSecret), time.Minute)
	svc := audit.NewService(nil, time.Now) // routes only: never called
	// The engine as serve builds it (service.Engine): metrics, health and
	// the log queries.
	e := web.NewEngine(logger, prometheus.NewRegistry())
	web.HealthRoutes(e, map[string]web.Check{})
	api.Routes(e, svc, tm, api.Limits{Concurrent: 1, Timeout: time.Second}, logger)
	routes := e.Routes()
	logRoutes := 0
	for _, r := range routes {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s: the audit API may only read", r.Method, r.Path)
		}
		if strings.HasPrefix(r.Path, "/admin/logs/") {
			logRoutes++
		}
	}
	if logRoutes != 8 { // four logs, each with and without a trailing slash
		t.Errorf("%d log routes, want 8", logRoutes)
	}
}

// publisher connects a test publisher to the service's NATS.
func publisher(tb testing.TB, natsURL string) *bus.Publisher {
	tb.Helper()
	nc, js, err := bus.Connect(natsURL, "test-publisher")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bus.EnsureStream(ctx, js, bus.DefaultStream()); err != nil {
		tb.Fatal(err)
	}
	return bus.NewPublisher(js)
}

func publish(tb testing.TB, pub *bus.Publisher, evs ...events.Event) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ev := range evs {
		if err := pub.Publish(ctx, ev); err != nil {
			tb.Fatal(err)
		}
	}
}

func newEvent(tb testing.TB, source, typ, subject string, actor events.Actor, data any) events.Event {
	tb.Helper()
	ev, err := events.New(context.Background(), source, typ, subject, actor, data)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

func apiCall(tb testing.TB, method, route, path string, status int, seconds float64, user int64, role string) events.Event {
	tb.Helper()
	c := events.APIRequest{Method: method, Route: route, Path: path, StatusCode: status, ProcessTime: seconds,
		IPAddress: "10.1.2.3", UserAgent: "e2e", Role: role, RequestID: "rq", TraceID: "0af7651916cd43dd8448eb211c80319c"}
	var actor events.Actor
	if user != 0 {
		c.UserID = &user
		actor = events.Actor{ID: fmt.Sprint(user), Role: role}
	}
	return newEvent(tb, events.SourceGateway, events.TypeAPIRequest, path, actor, c)
}

func ticketCreated(tb testing.TB, id int64, owner string) events.Event {
	tb.Helper()
	return newEvent(tb, events.SourceTickets, events.TypeTicketCreated, fmt.Sprintf("REQ%06d", id),
		events.Actor{ID: owner, Role: "user"}, events.TicketCreated{After: events.Ticket{ID: id, DisplayID: fmt.Sprintf("REQ%06d", id), Status: "new"}})
}

// getJSON GETs url as admin and decodes a 200 answer into v.
func getJSON(tb testing.TB, url, tok string, v any) {
	tb.Helper()
	res, err := get(tb, url, tok)
	if err != nil {
		tb.Fatal(err)
	}
	if res.status != http.StatusOK {
		tb.Fatalf("GET %s = %d %s", url, res.status, res.body)
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		tb.Fatalf("GET %s: %v in %s", url, err, res.body)
	}
}

// TestRunServesEveryLog publishes what the other services would and reads it
// back through each log route of the running service, with the log kept
// in MongoDB (FerretDB) and in PostgreSQL.
func TestRunServesEveryLog(t *testing.T) {
	t.Run("mongodb", func(t *testing.T) {
		natsURL := natstest.Start(t)
		testServesEveryLog(t, natsURL, testEnv(t, natsURL, mongotest.Start(t)))
	})
	t.Run("postgres", func(t *testing.T) {
		natsURL := natstest.Start(t)
		env := testEnv(t, natsURL, "mongodb://127.0.0.1:1/never-used")
		env["AUDIT_DATABASE_URL"] = pgtest.NewDatabase(t)
		testServesEveryLog(t, natsURL, env)
	})
}

func testServesEveryLog(t *testing.T, natsURL string, env map[string]string) {
	svc := startService(t, env)
	pub := publisher(t, natsURL)
	admin := issueToken(t, access.RoleAdmin)
	logs := svc.base + "/admin/logs/"

	before := events.Ticket{ID: 7, DisplayID: "REQ000007", Status: "new"}
	after := before
	after.Status = "in_progress"
	evs := []events.Event{
		ticketCreated(t, 7, "42"),
		newEvent(t, events.SourceTickets, events.TypeTicketStatusChanged, "REQ000007", events.Actor{ID: "5", Role: "staff"},
			events.TicketChanged{Before: &before, After: &after}),
		apiCall(t, "GET", "/user_request/:id", "/user_request/REQ000007", 200, 0.25, 5, "staff"),
		apiCall(t, "POST", "/auth/login", "/auth/login", 401, 0.75, 0, ""),
		newEvent(t, events.SourceAuth, events.TypeUserRegistered, "USR000042", events.Actor{ID: "42", Role: "user"},
			events.UserRegistered{User: events.User{ID: 42, DisplayID: "USR000042", Email: "u@example.com", Role: "user"}}),
	}
	// A second apart, in order: BSON keeps milliseconds, and events of the
	// same millisecond would list by id.
	start := time.Now().Add(-time.Minute).UTC()
	for i := range evs {
		evs[i].Time = start.Add(time.Duration(i) * time.Second)
	}
	publish(t, pub, evs...)
	eventually(t, 30*time.Second, func() string {
		var st struct {
			Total int `json:"total_logs"`
		}
		getJSON(t, logs+"stats?hours_ago=1", admin, &st)
		if st.Total != len(evs) {
			return fmt.Sprintf("%d of %d events stored", st.Total, len(evs))
		}
		return ""
	})

	var apiLogs struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	getJSON(t, logs+"api-logs", admin, &apiLogs)
	if apiLogs.Total != 2 || len(apiLogs.Items) != 2 {
		t.Fatalf("api-logs = %+v, want the two calls", apiLogs)
	}
	login := apiLogs.Items[0] // the newest
	delete(login, "timestamp")
	delete(login, "id")
	want := map[string]any{"method": "POST", "path": "/auth/login", "route": "/auth/login", "status_code": 401.0,
		"process_time": 0.75, "ip_address": "10.1.2.3", "user_agent": "e2e", "user_id": nil, "role": nil,
		"request_id": "rq", "trace_id": "0af7651916cd43dd8448eb211c80319c", "count": 1.0}
	if diff := cmp.Diff(want, login); diff != "" {
		t.Errorf("newest API call (-want +got):\n%s", diff)
	}
	getJSON(t, logs+"api-logs?method=get&status_code=200&user_id=5", admin, &apiLogs)
	if apiLogs.Total != 1 || apiLogs.Items[0]["path"] != "/user_request/REQ000007" {
		t.Errorf("filtered api-logs = %+v", apiLogs)
	}

	var actions struct {
		Items []struct {
			Action    string          `json:"action"`
			RequestID *int64          `json:"request_id"`
			UserID    *int64          `json:"user_id"`
			Role      *string         `json:"role"`
			Before    json.RawMessage `json:"before"`
			After     json.RawMessage `json:"after"`
		} `json:"items"`
		Total int `json:"total"`
	}
	getJSON(t, logs+"request-actions?request_id=7", admin, &actions)
	var got []string
	for _, it := range actions.Items {
		got = append(got, fmt.Sprintf("%s req=%d user=%d role=%s before=%t after=%t", it.Action, *it.RequestID, *it.UserID, *it.Role,
			string(it.Before) != "null", string(it.After) != "null"))
	}
	wantActions := []string{
		"view_request req=7 user=5 role=staff before=false after=false",
		"change_status req=7 user=5 role=staff before=true after=true",
		"create_request req=7 user=42 role=user before=false after=true",
	}
	if diff := cmp.Diff(wantActions, got); diff != "" {
		t.Errorf("request actions, newest first (-want +got):\n%s", diff)
	}

	var evPage struct {
		Items []struct {
			Type    string `json:"type"`
			ActorID string `json:"actor_id"`
		} `json:"items"`
		Total int `json:"total"`
	}
	getJSON(t, logs+"events", admin, &evPage)
	if evPage.Total != 3 {
		t.Errorf("events = %+v, want the three domain events", evPage)
	}
	getJSON(t, logs+"events?type=support.user.registered.v1&actor_id=42&since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), admin, &evPage)
	if evPage.Total != 1 || evPage.Items[0].Type != events.TypeUserRegistered {
		t.Errorf("user events = %+v", evPage)
	}
	getJSON(t, logs+"events?type=support.api.request.v1", admin, &evPage)
	if evPage.Total != 2 {
		t.Errorf("API call events = %+v, want 2", evPage)
	}

	var stats map[string]any
	getJSON(t, logs+"stats", admin, &stats)
	wantStats := map[string]any{
		"period_hours": 24.0, "api_requests": 2.0, "request_actions": 3.0, "total_logs": 5.0,
		"by_status_class": map[string]any{"2xx": 1.0, "3xx": 0.0, "4xx": 1.0, "5xx": 0.0},
		"by_action": map[string]any{"create_request": 1.0, "view_request": 1.0, "view_my_requests": 0.0, "list_assigned_requests": 0.0,
			"update_request": 0.0, "delete_request": 0.0, "change_status": 1.0, "assign_request": 0.0, "add_comment": 0.0},
		// Two calls: p50 is the smaller (rank ceil(1.0) = 1), p95 the larger (rank ceil(1.9) = 2).
		"latency_p50": 0.25, "latency_p95": 0.75,
	}
	if diff := cmp.Diff(wantStats, stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	svc.stop(t)
}

// TestRunPurgesOldEvents runs the service on FerretDB, which has no TTL
// index: the start-up detects it and the periodic purge removes what is
// past AUDIT_RETENTION_DAYS, keeping the rest.
func TestRunPurgesOldEvents(t *testing.T) {
	natsURL, mongoURL := natstest.Start(t), mongotest.Start(t)
	env := testEnv(t, natsURL, mongoURL)
	env["AUDIT_RETENTION_DAYS"] = "1"
	env["AUDIT_PURGE_INTERVAL"] = "50ms"
	svc := startService(t, env)
	db := connectDB(t, mongoURL, env["MONGODB_DATABASE"])

	old := ticketCreated(t, 1, "42")
	old.Time = time.Now().Add(-49 * time.Hour).UTC()
	fresh := ticketCreated(t, 2, "42")
	publish(t, publisher(t, natsURL), old, fresh)

	eventually(t, 30*time.Second, func() string {
		ids := map[string]bool{}
		cur, err := db.Collection(mongostore.EventsCollection).Find(context.Background(), bson.D{})
		if err != nil {
			return err.Error()
		}
		var docs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(context.Background(), &docs); err != nil {
			return err.Error()
		}
		for _, d := range docs {
			ids[d.ID] = true
		}
		if !ids[fresh.ID] || ids[old.ID] || len(ids) != 1 {
			return fmt.Sprintf("documents %v; want only the fresh event %s", ids, fresh.ID)
		}
		if !strings.Contains(svc.logs.String(), `"msg":"retention purge"`) {
			return "the purge of the old event is not logged yet"
		}
		return ""
	})
	if !strings.Contains(svc.logs.String(), `"by":"periodic purge"`) {
		t.Errorf("the start-up log does not say the purge was chosen")
	}
	svc.stop(t)
}

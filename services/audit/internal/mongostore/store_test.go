package mongostore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

// newStore returns a Store on a database of its own on a fresh FerretDB,
// with its indexes created, and that database for direct inspection.
func newStore(tb testing.TB) (context.Context, *mongostore.Store, *mongo.Database) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	client, err := mongo.Connect(options.Client().ApplyURI(mongotest.Start(tb)).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(mongotest.Database(tb))
	s := mongostore.New(db)
	if err := s.EnsureIndexes(ctx); err != nil {
		tb.Fatalf("EnsureIndexes: %v", err)
	}
	return ctx, s, db
}

// base is a fixed instant with millisecond precision, the precision of a
// BSON date, so that times survive a round trip unchanged.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func entry(id, action string, requestID int64, actor string, at time.Time) audit.Entry {
	return audit.Entry{
		EventID:    id,
		Type:       "support.ticket.created.v1",
		Source:     "/services/tickets",
		Subject:    fmt.Sprintf("REQ%06d", requestID),
		Time:       at,
		ActorID:    actor,
		ActorRole:  "user",
		TraceID:    "4bf92f3577b34da6a3ce929d0e0e4736",
		Action:     action,
		RequestID:  requestID,
		Data:       json.RawMessage(fmt.Sprintf(`{"before":null,"after":{"id":%d,"status":"new"}}`, requestID)),
		ReceivedAt: at.Add(time.Second),
	}
}

// save stores entries, failing the test on an error.
func save(tb testing.TB, ctx context.Context, s *mongostore.Store, entries ...audit.Entry) {
	tb.Helper()
	for _, e := range entries {
		if _, err := s.Save(ctx, e); err != nil {
			tb.Fatalf("Save %s: %v", e.EventID, err)
		}
	}
}

// jsonEqual compares JSON documents by value, not by spelling.
var jsonEqual = cmp.Transformer("json", func(raw json.RawMessage) any {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "invalid JSON: " + string(raw)
	}
	return v
})

func TestSaveIsIdempotentAndKeepsTheEvent(t *testing.T) {
	ctx, s, db := newStore(t)
	e := entry("ev-1", audit.ActionCreateRequest, 7, "42", base)
	e.Data = json.RawMessage(`{"before":null,"after":{"id":7,"title":"Printer \u00e9","tags":["a",1,2.5,true,null],"big":9007199254740993,"tiny":1e-7}}`)
	if created, err := s.Save(ctx, e); err != nil || !created {
		t.Fatalf("Save = %v, %v; want true, nil", created, err)
	}
	again := e
	again.Subject = "changed"
	if created, err := s.Save(ctx, again); err != nil || created {
		t.Fatalf("second Save of the same event = %v, %v; want false, nil", created, err)
	}
	n, err := db.Collection(mongostore.EventsCollection).CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d documents after saving one event twice, want 1", n)
	}

	// The document's fields, in the types the indexes and queries rely on.
	var doc bson.M
	if err := db.Collection(mongostore.EventsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "ev-1"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	want := bson.M{
		"_id":         "ev-1",
		"type":        "support.ticket.created.v1",
		"source":      "/services/tickets",
		"subject":     "REQ000007",
		"time":        bson.NewDateTimeFromTime(base),
		"actor_id":    int64(42),
		"actor_role":  "user",
		"trace_id":    "4bf92f3577b34da6a3ce929d0e0e4736",
		"action":      "create_request",
		"request_id":  int64(7),
		"received_at": bson.NewDateTimeFromTime(base.Add(time.Second)),
	}
	delete(doc, "data")
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("stored document (-want +got):\n%s", diff)
	}
	raw, err := db.Collection(mongostore.EventsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "ev-1"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	// data is a document, not a string, so queries can reach into it.
	if v, err := raw.LookupErr("data", "after", "id"); err != nil || v.Type != bson.TypeInt64 || v.Int64() != 7 {
		t.Errorf("data.after.id = %v (err %v), want int64 7", v, err)
	}

	// Reading it back gives the entry that was saved first.
	got, total, err := s.RequestActions(ctx, audit.ActionQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(got) != 1 {
		t.Fatalf("RequestActions = %d entries, total %d; want 1, 1", len(got), total)
	}
	if diff := cmp.Diff(e, got[0], jsonEqual); diff != "" {
		t.Errorf("entry read back (-want +got):\n%s", diff)
	}
}

func TestSaveActorIDs(t *testing.T) {
	ctx, s, db := newStore(t)
	tests := []struct {
		actor string
		want  any // stored actor_id; nil: absent
	}{
		{"12", int64(12)},
		{"svc-relay", "svc-relay"},
		{"", nil},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.actor), func(t *testing.T) {
			e := entry(fmt.Sprintf("actor-%d", i), audit.ActionCreateRequest, 1, tt.actor, base)
			if _, err := s.Save(ctx, e); err != nil {
				t.Fatal(err)
			}
			var doc bson.M
			if err := db.Collection(mongostore.EventsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: e.EventID}}).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			got, present := doc["actor_id"]
			if tt.want == nil && present {
				t.Errorf("actor_id = %#v, want absent", got)
			}
			if tt.want != nil && got != tt.want {
				t.Errorf("actor_id = %#v, want %#v", got, tt.want)
			}
		})
	}
	// Every form reads back as it was sent.
	got, _, err := s.RequestActions(ctx, audit.ActionQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	actors := map[string]bool{}
	for _, e := range got {
		actors[e.ActorID] = true
	}
	if diff := cmp.Diff(map[string]bool{"12": true, "svc-relay": true, "": true}, actors); diff != "" {
		t.Errorf("actor ids read back (-want +got):\n%s", diff)
	}
}

func TestSaveRefusesDataThatIsNotAnObject(t *testing.T) {
	ctx, s, _ := newStore(t)
	for _, data := range []string{`[1,2]`, `"text"`, `{"a":1} {"b":2}`, `{"n":1e999}`} {
		t.Run(data, func(t *testing.T) {
			e := entry("bad", audit.ActionCreateRequest, 1, "1", base)
			e.Data = json.RawMessage(data)
			if _, err := s.Save(ctx, e); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Errorf("Save(%s) = %v, want ErrInvalidEvent", data, err)
			}
		})
	}
}

func TestEnsureIndexesIsIdempotent(t *testing.T) {
	ctx, s, db := newStore(t) // created once already
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatalf("second EnsureIndexes: %v", err)
	}
	specs, err := db.Collection(mongostore.EventsCollection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sp := range specs {
		got = append(got, sp.Name)
	}
	want := []string{"_id_", "time_-1__id_-1", "type_1_time_-1__id_-1", "subject_1_time_-1__id_-1", "actor_id_1_time_-1__id_-1",
		"action_1_time_-1__id_-1", "request_id_1_time_-1__id_-1", "method_1_time_-1__id_-1", "status_code_1_time_-1__id_-1",
		"type_1_process_time_1"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("indexes (-want +got):\n%s", diff)
	}
}

func TestRequestActions(t *testing.T) {
	ctx, s, _ := newStore(t)
	h := func(n float64) time.Time { return base.Add(-time.Duration(n * float64(time.Hour))) }
	seed := []audit.Entry{
		entry("e1", audit.ActionCreateRequest, 1, "10", h(1)),
		entry("e2", audit.ActionCreateRequest, 2, "11", h(2)),
		entry("e3", audit.ActionUpdateRequest, 1, "11", h(3)),
		entry("e4", "", 0, "10", h(0.5)), // not a ticket action
		entry("e5", audit.ActionCreateRequest, 3, "10", h(30)),
		entry("e6a", audit.ActionCreateRequest, 4, "12", h(5)), // e6a and e6b tie on time:
		entry("e6b", audit.ActionCreateRequest, 5, "12", h(5)), // the larger id comes first
	}
	save(t, ctx, s, seed...)
	day := h(24)
	tests := []struct {
		name  string
		q     audit.ActionQuery
		want  []string
		total int64
	}{
		{"last day, newest first", audit.ActionQuery{Since: day, Limit: 50}, []string{"e1", "e2", "e3", "e6b", "e6a"}, 5},
		{"no time bound", audit.ActionQuery{Limit: 50}, []string{"e1", "e2", "e3", "e6b", "e6a", "e5"}, 6},
		{"second page of two", audit.ActionQuery{Since: day, Offset: 2, Limit: 2}, []string{"e3", "e6b"}, 5},
		{"last page", audit.ActionQuery{Since: day, Offset: 4, Limit: 2}, []string{"e6a"}, 5},
		{"past the end", audit.ActionQuery{Since: day, Offset: 10, Limit: 2}, []string{}, 5},
		{"by request", audit.ActionQuery{Since: day, RequestID: 1, Limit: 50}, []string{"e1", "e3"}, 2},
		{"by actor", audit.ActionQuery{Since: day, ActorID: 11, Limit: 50}, []string{"e2", "e3"}, 2},
		{"by action", audit.ActionQuery{Since: day, Action: audit.ActionUpdateRequest, Limit: 50}, []string{"e3"}, 1},
		{"by actor and action", audit.ActionQuery{ActorID: 10, Action: audit.ActionCreateRequest, Limit: 50}, []string{"e1", "e5"}, 2},
		{"since is inclusive", audit.ActionQuery{Since: h(2), Limit: 50}, []string{"e1", "e2"}, 2},
		{"nothing matches", audit.ActionQuery{Since: day, RequestID: 99, Limit: 50}, []string{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.RequestActions(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, e := range got {
				ids = append(ids, e.EventID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if total != tt.total {
				t.Errorf("total = %d, want %d", total, tt.total)
			}
		})
	}
}

func TestSaveDeadLetter(t *testing.T) {
	ctx, s, db := newStore(t)
	d := audit.DeadLetter{
		Subject:    "support.ticket.created",
		Reason:     "decode event: invalid character",
		Data:       []byte("not json \xff"),
		ReceivedAt: base,
	}
	withID := audit.DeadLetter{Subject: "support.ticket.created", Reason: "data is not an object", Data: []byte(`{"id":"x"}`), EventID: "x", ReceivedAt: base}
	for _, dl := range []audit.DeadLetter{d, withID} {
		if err := s.SaveDeadLetter(ctx, dl); err != nil {
			t.Fatalf("SaveDeadLetter: %v", err)
		}
	}
	cur, err := db.Collection(mongostore.DeadLettersCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "event_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var got []bson.M
	if err := cur.All(ctx, &got); err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		delete(g, "_id")
	}
	want := []bson.M{
		{"subject": "support.ticket.created", "reason": "decode event: invalid character", "data": "not json \uFFFD", "received_at": bson.NewDateTimeFromTime(base)},
		{"subject": "support.ticket.created", "reason": "data is not an object", "data": `{"id":"x"}`, "event_id": "x", "received_at": bson.NewDateTimeFromTime(base)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

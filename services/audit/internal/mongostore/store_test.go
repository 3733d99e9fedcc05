package mongostore_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/supportdesk/supportdesk/services/audit/internal/storetest"
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

// base is the suite's fixed instant.
var base = storetest.Base

// TestConformance runs the store suite against FerretDB.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) storetest.Store {
			_, s, _ := newStore(t)
			return s
		},
		Refused: func(id string) audit.Entry {
			e := storetest.Entry(id, audit.ActionCreateRequest, 1, "1", base)
			e.Data = json.RawMessage(`[1,2]`) // BSON has no document for it
			return e
		},
	})
}

// save stores entries, failing the test unless each one is stored.
func save(tb testing.TB, _ context.Context, s *mongostore.Store, entries ...audit.Entry) {
	tb.Helper()
	storetest.Save(tb, s, entries...)
}

// TestStoredDocument checks the fields of a stored entry, in the types the
// indexes and queries rely on.
func TestStoredDocument(t *testing.T) {
	ctx, s, db := newStore(t)
	e := storetest.Entry("ev-1", audit.ActionCreateRequest, 7, "42", base)
	call := storetest.Call(t, "c-1", base, "GET", "/user_request/:id", "/user_request/7", 200, 0.01234, 42, "user")
	refused := storetest.Refusals(t, "r-1", base, "/auth/login", 3)
	save(t, ctx, s, e, call, refused)

	find := func(id string) bson.M {
		var doc bson.M
		if err := db.Collection(mongostore.EventsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		delete(doc, "data")
		delete(doc, "received_at")
		return doc
	}
	want := bson.M{
		"_id":        "ev-1",
		"type":       "support.ticket.created.v1",
		"source":     "/services/tickets",
		"subject":    "REQ000007",
		"time":       bson.NewDateTimeFromTime(base),
		"actor_id":   int64(42),
		"actor_role": "user",
		"trace_id":   "4bf92f3577b34da6a3ce929d0e0e4736",
		"action":     "create_request",
		"request_id": int64(7),
	}
	if diff := cmp.Diff(want, find("ev-1")); diff != "" {
		t.Errorf("stored ticket event (-want +got):\n%s", diff)
	}
	want = bson.M{
		"_id": "c-1", "type": "support.api.request.v1", "source": "/services/gateway", "subject": "/user_request/7",
		"time": bson.NewDateTimeFromTime(base), "actor_id": int64(42), "actor_role": "user",
		"action": "view_request", "request_id": int64(7),
		"call": true, "method": "GET", "route": "/user_request/:id", "status_code": int32(200), "status_class": "2xx",
		"process_time": 0.01234, "latency": 0.012,
	}
	if diff := cmp.Diff(want, find("c-1")); diff != "" {
		t.Errorf("stored call (-want +got):\n%s", diff)
	}
	want = bson.M{
		"_id": "r-1", "type": "support.api.refused.v1", "source": "/services/gateway", "subject": "/auth/login",
		"time": bson.NewDateTimeFromTime(base),
		"call": true, "method": "GET", "route": "/auth/login", "status_code": int32(429), "status_class": "4xx", "weight": int64(3),
	}
	if diff := cmp.Diff(want, find("r-1")); diff != "" {
		t.Errorf("stored aggregate (-want +got):\n%s", diff)
	}

	raw, err := db.Collection(mongostore.EventsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "ev-1"}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	// data is a document, not a string, so queries can reach into it.
	if v, err := raw.LookupErr("data", "after", "id"); err != nil || v.Type != bson.TypeInt64 || v.Int64() != 7 {
		t.Errorf("data.after.id = %v (err %v), want int64 7", v, err)
	}
}

func TestSaveRefusesDataThatIsNotAnObject(t *testing.T) {
	ctx, s, _ := newStore(t)
	for _, data := range []string{`[1,2]`, `"text"`, `{"a":1} {"b":2}`, `{"n":1e999}`} {
		t.Run(data, func(t *testing.T) {
			e := storetest.Entry("bad", audit.ActionCreateRequest, 1, "1", base)
			e.Data = json.RawMessage(data)
			saved, err := s.SaveBatch(ctx, []audit.Entry{e}, time.Time{})
			if err != nil || len(saved) != 1 || !errors.Is(saved[0].Err, audit.ErrInvalidEvent) {
				t.Errorf("SaveBatch(%s) = %+v, %v; want ErrInvalidEvent", data, saved, err)
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
	want := []string{"_id_", "time_-1__id_-1", "call_1_time_-1__id_-1", "type_1_time_-1__id_-1", "subject_1_time_-1__id_-1",
		"actor_id_1_time_-1__id_-1", "action_1_time_-1__id_-1", "request_id_1_time_-1__id_-1", "method_1_time_-1__id_-1",
		"status_code_1_time_-1__id_-1"}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("indexes (-want +got):\n%s", diff)
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

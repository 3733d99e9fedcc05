package mongostore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

func TestMonitorTracesCommands(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	client, err := mongo.Connect(options.Client().ApplyURI(mongotest.Start(t)).SetMonitor(mongostore.Monitor(tp)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, parent := tp.Tracer("test").Start(ctx, "consume")
	coll := client.Database("traced").Collection("events")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert = %v, want a duplicate key error", err)
	}
	if err := client.Database("traced").RunCommand(ctx, bson.D{{Key: "noSuchCommand", Value: "events"}}).Err(); err == nil {
		t.Fatal("an unknown command succeeded")
	}
	parent.End()

	type got struct {
		Name, Collection string
		Kind             trace.SpanKind
		Child, Failed    bool
	}
	var spans []got
	for _, s := range rec.Ended() {
		if s.Name() == "consume" {
			continue
		}
		var collection string
		for _, a := range s.Attributes() {
			if a.Key == attribute.Key("db.collection.name") {
				collection = a.Value.AsString()
			}
		}
		spans = append(spans, got{
			Name: s.Name(), Collection: collection, Kind: s.SpanKind(),
			Child:  s.Parent().SpanID() == parent.SpanContext().SpanID(),
			Failed: len(s.Events()) > 0, // the recorded error
		})
	}
	// The write error of a duplicate is in the reply, not a failed command.
	want := []got{
		{Name: "insert events", Collection: "events", Kind: trace.SpanKindClient, Child: true},
		{Name: "insert events", Collection: "events", Kind: trace.SpanKindClient, Child: true},
		{Name: "noSuchCommand events", Collection: "events", Kind: trace.SpanKindClient, Child: true, Failed: true},
	}
	if diff := cmp.Diff(want, spans); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

package mongostore

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/supportdesk/supportdesk/services/audit/internal/mongostore"

// Monitor returns a command monitor that traces every MongoDB command as a
// client span of tp, child of the span in the command's context, so that a
// consumed event's trace shows its insert. (The contrib otelmongo package
// has no release for mongo-driver v2 that this module can use.)
func Monitor(tp trace.TracerProvider) *event.CommandMonitor {
	tracer := tp.Tracer(tracerName)
	type key struct {
		conn string
		req  int64
	}
	var spans sync.Map // key -> trace.Span
	end := func(e event.CommandFinishedEvent, failure error) {
		v, ok := spans.LoadAndDelete(key{e.ConnectionID, e.RequestID})
		if !ok {
			return
		}
		span := v.(trace.Span)
		if failure != nil {
			span.RecordError(failure)
			span.SetStatus(codes.Error, failure.Error())
		}
		span.End()
	}
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			attrs := []attribute.KeyValue{
				attribute.String("db.system.name", "mongodb"),
				attribute.String("db.operation.name", e.CommandName),
				attribute.String("db.namespace", e.DatabaseName),
			}
			name := e.CommandName
			// A command's first member names its collection, e.g. {insert: "events"}.
			if first, err := e.Command.IndexErr(0); err == nil {
				if coll, ok := first.Value().StringValueOK(); ok {
					attrs = append(attrs, attribute.String("db.collection.name", coll))
					name += " " + coll
				}
			}
			_, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
			spans.Store(key{e.ConnectionID, e.RequestID}, span)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { end(e.CommandFinishedEvent, nil) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { end(e.CommandFinishedEvent, e.Failure) },
	}
}

package telemetry_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/supportdesk/supportdesk/pkg/telemetry"
)

func TestTracesAreExportedAndPropagated(t *testing.T) {
	var exported atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exported.Add(1)
		}
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()

	ctx := context.Background()
	shutdown, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "test", Endpoint: collector.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := otel.Tracer("t").Start(ctx, "work")
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if want := "00-" + span.SpanContext().TraceID().String(); !strings.HasPrefix(carrier.Get("traceparent"), want) {
		t.Errorf("traceparent = %q, want prefix %q", carrier.Get("traceparent"), want)
	}

	var buf strings.Builder
	telemetry.NewLogger(&buf, 0, "test").InfoContext(ctx, "hello")
	var rec map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["trace_id"] != span.SpanContext().TraceID().String() || rec["service"] != "test" {
		t.Errorf("log record %v lacks the trace id or service", rec)
	}
	span.End()

	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if exported.Load() == 0 {
		t.Error("no span reached the OTLP endpoint")
	}
}

func TestParseLevel(t *testing.T) {
	if _, err := telemetry.ParseLevel("verbose"); err == nil {
		t.Error("accepted an unknown level")
	}
	if l, err := telemetry.ParseLevel("warn"); err != nil || l.String() != "WARN" {
		t.Errorf("ParseLevel(warn) = %v, %v", l, err)
	}
}

func TestWithoutEndpointIdsButNoRecording(t *testing.T) {
	shutdown, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(context.Background()) }()
	ctx, span := otel.Tracer("t").Start(context.Background(), "work")
	defer span.End()
	if !span.SpanContext().IsValid() {
		t.Fatal("no trace id without an endpoint: logs and problem documents need one")
	}
	if span.IsRecording() {
		t.Error("a span is recorded though nothing receives it")
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if !strings.HasPrefix(carrier.Get("traceparent"), "00-"+span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent = %q", carrier.Get("traceparent"))
	}
}

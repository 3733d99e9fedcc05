package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// traced serves /things/:id (200) and /fail (503) behind tracing(tp), and
// reports the trace id each handler saw in its request's context.
func traced(tp trace.TracerProvider, seen *string) *gin.Engine {
	e := gin.New()
	e.Use(tracing(tp))
	handler := func(status int) gin.HandlerFunc {
		return func(c *gin.Context) {
			*seen = trace.SpanContextFromContext(c.Request.Context()).TraceID().String()
			c.Status(status)
		}
	}
	e.GET("/things/:id", handler(http.StatusOK))
	e.GET("/fail", handler(http.StatusServiceUnavailable))
	return e
}

func serve(e *gin.Engine, path string) {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	e.ServeHTTP(httptest.NewRecorder(), req)
}

func TestTracingContinuesTheCallersTrace(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	rec := tracetest.NewSpanRecorder()
	var seen string
	e := traced(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), &seen)

	serve(e, "/things/7")
	serve(e, "/fail")
	serve(e, "/nowhere")

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	ok, failed, unmatched := spans[0], spans[1], spans[2]
	if ok.Name() != "GET /things/:id" || failed.Name() != "GET /fail" || unmatched.Name() != "GET" {
		t.Errorf("span names %q, %q, %q", ok.Name(), failed.Name(), unmatched.Name())
	}
	if ok.SpanKind() != trace.SpanKindServer {
		t.Errorf("span kind %v, want server", ok.SpanKind())
	}
	if got := ok.SpanContext().TraceID().String(); got != callerTrace || seen != callerTrace {
		t.Errorf("trace id %s, handler saw %s; want the caller's %s", got, seen, callerTrace)
	}
	if got := ok.Parent().SpanID().String(); got != callerSpan {
		t.Errorf("parent span %s, want the caller's %s", got, callerSpan)
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range ok.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	want := map[attribute.Key]any{
		"http.route": "/things/:id", "http.request.method": "GET", "url.path": "/things/7",
		"http.response.status_code": int64(200),
	}
	for k, v := range want {
		if attrs[k].AsInterface() != v {
			t.Errorf("attribute %s = %v, want %v", k, attrs[k].AsInterface(), v)
		}
	}
	if ok.Status().Code != codes.Unset || failed.Status().Code != codes.Error {
		t.Errorf("statuses %v and %v, want unset for 200 and error for 503", ok.Status(), failed.Status())
	}
}

// An unsampled request still carries a trace id (for logs, problem
// documents and the X-Trace-Id header) and records nothing.
func TestTracingWithoutSampling(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	var seen string
	e := traced(sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(rec)), &seen)
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/things/7", nil))
	if !mustTraceID(t, seen).IsValid() {
		t.Errorf("the handler saw trace id %q, want a valid one", seen)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want none", n)
	}
}

func mustTraceID(t *testing.T, s string) trace.TraceID {
	t.Helper()
	id, err := trace.TraceIDFromHex(s)
	if err != nil {
		t.Fatalf("trace id %q: %v", s, err)
	}
	return id
}

package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP trace receiver, standing in for Jaeger's: it
// keeps, per trace id, the services and span names it was sent.
type collector struct {
	mu     sync.Mutex
	traces map[string]map[string][]string // trace id -> service -> span names
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	c := &collector{traces: map[string]map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, span := range ss.Spans {
					id := hexID(span.TraceId)
					if c.traces[id] == nil {
						c.traces[id] = map[string][]string{}
					}
					c.traces[id][service] = append(c.traces[id][service], span.Name)
				}
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func (c *collector) spans(traceID string) map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for svc, names := range c.traces[traceID] {
		out[svc] = append([]string(nil), names...)
	}
	return out
}

// hasSpans reports whether got (span names by service) holds every span
// of want.
func hasSpans(got, want map[string][]string) bool {
	for svc, names := range want {
		for _, name := range names {
			if !contains(got[svc], name) {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestOneTraceAcrossTheSystem follows a ticket's creation as an operator
// would in Jaeger: the trace of the create request holds spans of the
// gateway, the tickets service (its handler, its SQL, the outbox relay's
// publish) and the audit service's consumer.
func TestOneTraceAcrossTheSystem(t *testing.T) {
	c, endpoint := startCollector(t)
	s := startSystem(t, "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint)
	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "trace@example.com", "password": "Tr4cePassw0rd"})
	tok := s.login("trace@example.com", "Tr4cePassw0rd")
	resp, _ := s.json(201, "POST", "/user_request/", tok, map[string]any{"text": "follow me"})
	traceID := resp.Header.Get("X-Trace-Id")

	want := map[string][]string{
		"gateway": {"POST /user_request/"},
		"tickets": {"POST /user_request/", "publish support.ticket.created"},
		"audit":   {"process support.ticket.created"},
	}
	var got map[string][]string
	s.waitFor("the create request's spans from every hop", 20*time.Second, func() bool {
		got = c.spans(traceID)
		return hasSpans(got, want)
	})
	if len(got["tickets"]) < 4 {
		t.Errorf("tickets spans %v: want its SQL traced too", got["tickets"])
	}
}

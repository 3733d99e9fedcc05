//go:build jaeger

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jaegerTrace is the part of Jaeger's query API answer
// (GET /api/traces/{id}) the test reads.
type jaegerTrace struct {
	Data []struct {
		Spans []struct {
			OperationName string `json:"operationName"`
			ProcessID     string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

// TestJaegerHoldsOneTrace runs a real Jaeger (bin/jaeger, built by
// `make test-jaeger` from the Go module proxy) with deploy/jaeger's
// configuration on ports of its own, sends the system's traces to it, and
// reads through Jaeger's query API that the trace of one ticket's creation
// holds spans of the gateway, the tickets service (its handler and its
// SQL), the outbox relay's publish and the audit consumer.
func TestJaegerHoldsOneTrace(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "jaeger")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (make test-jaeger builds it)", bin, err)
	}
	otlp, query, queryGRPC := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(bin, "--config", filepath.Join(root, "deploy", "jaeger", "config.yaml"))
	cmd.Env = append(os.Environ(), "JAEGER_OTLP_HTTP_ADDR=127.0.0.1:"+otlp, "JAEGER_QUERY_ADDR=127.0.0.1:"+query,
		"JAEGER_QUERY_GRPC_ADDR=127.0.0.1:"+queryGRPC)
	logFile, err := os.Create(filepath.Join(t.TempDir(), "jaeger.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("---- jaeger log ----\n%s", tail(string(log), 40))
		}
	})
	queryURL := "http://127.0.0.1:" + query
	deadline := time.Now().Add(60 * time.Second)
	for !healthy(queryURL + "/api/services") {
		if time.Now().After(deadline) {
			t.Fatal("Jaeger's query API did not answer within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	s := startSystem(t, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:"+otlp)
	user := s.login("user@company.com", "SecureUserPass123!")
	resp, _ := s.json(201, "POST", "/user_request/", user, map[string]any{"text": "find me in Jaeger"})
	traceID := resp.Header.Get("X-Trace-Id")
	if len(traceID) != 32 {
		t.Fatalf("X-Trace-Id = %q", traceID)
	}

	want := map[string][]string{
		"gateway": {"POST /user_request/"},
		"tickets": {"POST /user_request/", "publish support.ticket.created"},
		"audit":   {"process support.ticket.created"},
	}
	var got map[string][]string
	s.waitFor("the trace in Jaeger with spans of every hop", 30*time.Second, func() bool {
		got = jaegerSpans(queryURL, traceID)
		return hasSpans(got, want)
	})
	sql := 0
	for _, name := range got["tickets"] {
		if strings.Contains(strings.ToUpper(name), "INSERT") || strings.Contains(strings.ToUpper(name), "SELECT") ||
			strings.HasPrefix(name, "query") || strings.HasPrefix(name, "batch") {
			sql++
		}
	}
	t.Logf("trace %s in Jaeger: %d spans of the gateway, %d of tickets (%d SQL), %d of audit", traceID,
		len(got["gateway"]), len(got["tickets"]), sql, len(got["audit"]))
	if sql == 0 {
		t.Errorf("no SQL span of tickets in %v", got["tickets"])
	}
}

// jaegerSpans reads a trace from Jaeger's query API: span names by service.
func jaegerSpans(queryURL, traceID string) map[string][]string {
	out := map[string][]string{}
	resp, err := http.Get(fmt.Sprintf("%s/api/traces/%s", queryURL, traceID))
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	var tr jaegerTrace
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tr) != nil {
		return out
	}
	for _, d := range tr.Data {
		for _, sp := range d.Spans {
			svc := d.Processes[sp.ProcessID].ServiceName
			out[svc] = append(out[svc], sp.OperationName)
		}
	}
	return out
}

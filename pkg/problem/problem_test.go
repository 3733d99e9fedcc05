package problem_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
)

func TestWriteError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want problem.Problem
	}{
		{
			name: "wrapped not found",
			err:  fmt.Errorf("get ticket 7: %w", fault.New(fault.NotFound, "ticket_not_found", "Request not found")),
			want: problem.Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: "Request not found", Code: "ticket_not_found", Instance: "/x"},
		},
		{
			name: "validation",
			err:  fault.Fields(fault.FieldError{Field: "text", Message: "must not be empty"}),
			want: problem.Problem{Type: "about:blank", Title: "Unprocessable Entity", Status: 422, Detail: "The request has invalid fields",
				Code: "validation_failed", Instance: "/x", Errors: []fault.FieldError{{Field: "text", Message: "must not be empty"}}},
		},
		{
			name: "internal hides the cause",
			err:  errors.New("pq: relation users does not exist"),
			want: problem.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500,
				Detail: "An internal error occurred; quote the trace_id when reporting it", Code: "internal", Instance: "/x"},
		},
		{
			name: "an unreachable database is an outage, its cause hidden",
			err:  fmt.Errorf("list tickets: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}),
			want: problem.Problem{Type: "about:blank", Title: "Service Unavailable", Status: 503,
				Detail: "A service this request needs is unavailable; try again shortly", Code: "dependency_unavailable", Instance: "/x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			problem.WriteError(rec, req, discardLogger(), tt.err)
			if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
				t.Errorf("Content-Type = %q", got)
			}
			if rec.Code != tt.want.Status {
				t.Errorf("status = %d, want %d", rec.Code, tt.want.Status)
			}
			var got problem.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problem mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnauthorizedCarriesChallenge(t *testing.T) {
	rec := httptest.NewRecorder()
	problem.Write(rec, httptest.NewRequest(http.MethodGet, "/auth/profile", nil), problem.New(401, "unauthenticated", "Not authenticated"))
	if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer", got)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	rec := httptest.NewRecorder()
	err := &fault.Error{Kind: fault.TooMany, Code: "too_many", Detail: "slow down", RetryAfter: 1500 * time.Millisecond}
	problem.WriteError(rec, httptest.NewRequest(http.MethodPost, "/auth/login", nil), discardLogger(), err)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("= %d, Retry-After %q; want 429 and 2", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestWriteErrorOfAClientThatLeft: a request whose client hung up is
// answered 499 and logged below ERROR, however its handler failed.
func TestWriteErrorOfAClientThatLeft(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/user_request/my", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	problem.WriteError(rec, req, logger, fmt.Errorf("list tickets: %w", context.Canceled))
	if rec.Code != problem.StatusClientClosed || logs.Len() != 0 {
		t.Errorf("status %d, log %q; want 499 and nothing at INFO or above", rec.Code, logs.String())
	}
	// The same error with the client still there is a failure.
	rec = httptest.NewRecorder()
	problem.WriteError(rec, httptest.NewRequest("GET", "/", nil), logger, fmt.Errorf("list tickets: %w", context.Canceled))
	if rec.Code != 500 || !strings.Contains(logs.String(), "request failed") {
		t.Errorf("status %d, log %q; want 500 logged", rec.Code, logs.String())
	}
}

func TestEveryKindHasItsStatus(t *testing.T) {
	want := map[fault.Kind]int{
		fault.Invalid: 400, fault.Unauthenticated: 401, fault.Forbidden: 403, fault.NotFound: 404,
		fault.NotAllowed: 405, fault.TooSlow: 408, fault.Conflict: 409, fault.Precondition: 412,
		fault.TooLarge: 413, fault.Validation: 422, fault.TooMany: 429, fault.Unavailable: 503, fault.Timeout: 504,
	}
	for kind, status := range want {
		rec := httptest.NewRecorder()
		// A nil logger is allowed: it logs to slog.Default().
		problem.WriteError(rec, httptest.NewRequest(http.MethodGet, "/x", nil), nil, fault.New(kind, "c", "d"))
		if rec.Code != status {
			t.Errorf("kind %d answered %d, want %d", kind, rec.Code, status)
		}
	}
}

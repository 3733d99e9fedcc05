// Package problem writes RFC 9457 problem details (application/problem+json),
// the one error format of every service and of the gateway.
package problem

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Problem is an RFC 9457 problem document with the extension members that
// every response of the system carries.
type Problem struct {
	Type     string             `json:"type"`
	Title    string             `json:"title"`
	Status   int                `json:"status"`
	Detail   string             `json:"detail"`
	Instance string             `json:"instance,omitempty"`
	Code     string             `json:"code,omitempty"`
	TraceID  string             `json:"trace_id,omitempty"`
	Errors   []fault.FieldError `json:"errors,omitempty"`
}

// New returns a problem with the standard title of status.
func New(status int, code, detail string) Problem {
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

var statusOf = map[fault.Kind]int{
	fault.Internal:        http.StatusInternalServerError,
	fault.Invalid:         http.StatusBadRequest,
	fault.Validation:      http.StatusUnprocessableEntity,
	fault.Unauthenticated: http.StatusUnauthorized,
	fault.Forbidden:       http.StatusForbidden,
	fault.NotFound:        http.StatusNotFound,
	fault.NotAllowed:      http.StatusMethodNotAllowed,
	fault.TooSlow:         http.StatusRequestTimeout,
	fault.Conflict:        http.StatusConflict,
	fault.Precondition:    http.StatusPreconditionFailed,
	fault.TooLarge:        http.StatusRequestEntityTooLarge,
	fault.TooMany:         http.StatusTooManyRequests,
	fault.Unavailable:     http.StatusServiceUnavailable,
	fault.Timeout:         http.StatusGatewayTimeout,
}

// RetryAfter returns the Retry-After of err, if it carries one.
func RetryAfter(err error) (time.Duration, bool) {
	fe, ok := errors.AsType[*fault.Error](err)
	if !ok || fe.RetryAfter <= 0 {
		return 0, false
	}
	return fe.RetryAfter, true
}

// FromError maps err to a problem. Only the detail of a *fault.Error reaches
// the client; any other error becomes a generic 500 and is logged with the
// trace id by Write.
func FromError(err error) Problem {
	kind := fault.KindOf(err)
	if kind == fault.Internal {
		return New(http.StatusInternalServerError, "internal", "An internal error occurred; quote the trace_id when reporting it")
	}
	fe, _ := errors.AsType[*fault.Error](err)
	p := New(statusOf[kind], fe.Code, fe.Detail)
	p.Errors = fe.Fields
	return p
}

// Write sends p as the response, filling in instance and trace_id.
func Write(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	if p.TraceID == "" {
		p.TraceID = TraceID(r.Context())
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	if p.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer`)
	}
	body, _ := json.Marshal(p)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// WriteError logs err when it is internal and sends its problem. A nil
// logger logs to slog.Default().
//
// An error of no kind that says a dependency is unreachable (see
// fault.Unreachable), such as the database being restarted, answers 503
// with Retry-After and is logged as a warning: the request may succeed
// when retried.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client hung up: nothing is wrong but the wait, and nobody
		// reads the answer. Recorded as nginx's 499.
		logger.DebugContext(r.Context(), "client went away", "path", r.URL.Path, "err", err)
		w.WriteHeader(StatusClientClosed)
		return
	}
	if fault.KindOf(err) == fault.Internal && fault.Unreachable(err) {
		logger.WarnContext(r.Context(), "dependency unavailable", "path", r.URL.Path, "err", err)
		err = &fault.Error{Kind: fault.Unavailable, Code: "dependency_unavailable",
			Detail: "A service this request needs is unavailable; try again shortly", RetryAfter: time.Second, Err: err}
	}
	p := FromError(err)
	if d, ok := RetryAfter(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
	if p.Status == http.StatusInternalServerError {
		logger.ErrorContext(r.Context(), "request failed", "err", err, "path", r.URL.Path)
	}
	Write(w, r, p)
}

// StatusClientClosed is the status recorded for a request whose client hung
// up before its answer (nginx's convention).
const StatusClientClosed = 499

// TraceID returns the trace id of the span in ctx, or "".
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

package audit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// Call is one API call as the gateway reported it in a
// support.api.request.v1 event: what the API log lists.
type Call struct {
	Method      string
	Route       string // Gin route template, e.g. /user_request/:id
	Path        string // never with the query string
	StatusCode  int
	ProcessTime float64 // seconds
	IPAddress   string
	UserAgent   string
	UserID      *int64 // nil when the call was not authenticated
	Role        string
	RequestID   string
	TraceID     string
}

// DecodeCall reads the data of a support.api.request.v1 event. It fails
// with ErrInvalidEvent when the data does not describe an API call: no
// method, a status code that is not an HTTP status, or a negative time.
// Members it does not know are ignored, since versions grow additively.
func DecodeCall(data json.RawMessage) (*Call, error) {
	var d events.APIRequest
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%w: data of an API request: %w", ErrInvalidEvent, err)
	}
	switch {
	case strings.TrimSpace(d.Method) == "":
		return nil, fmt.Errorf("%w: API request without a method", ErrInvalidEvent)
	case d.StatusCode < 100 || d.StatusCode > 599:
		return nil, fmt.Errorf("%w: API request with status code %d", ErrInvalidEvent, d.StatusCode)
	case d.ProcessTime < 0:
		return nil, fmt.Errorf("%w: API request with a negative process time", ErrInvalidEvent)
	}
	return &Call{
		Method:      strings.ToUpper(d.Method),
		Route:       d.Route,
		Path:        d.Path,
		StatusCode:  d.StatusCode,
		ProcessTime: d.ProcessTime,
		IPAddress:   d.IPAddress,
		UserAgent:   d.UserAgent,
		UserID:      d.UserID,
		Role:        d.Role,
		RequestID:   d.RequestID,
		TraceID:     d.TraceID,
	}, nil
}

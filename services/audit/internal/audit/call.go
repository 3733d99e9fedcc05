package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// Call is what the API log lists: one API call as the gateway reported it
// in a support.api.request.v1 event, or, for a support.api.refused.v1
// event, the calls of one client to one route that the gateway's rate
// limits refused within a minute (Count of them, Aggregate set).
type Call struct {
	Method      string
	Route       string // Gin route template, e.g. /user_request/:id
	Path        string // never with the query string; the route for an aggregate
	StatusCode  int
	ProcessTime float64 // seconds; 0 for an aggregate
	IPAddress   string
	UserAgent   string
	UserID      *int64 // nil when the call was not authenticated
	Role        string
	RequestID   string
	TraceID     string
	Count       int64 // calls this entry stands for: 1, or an aggregate's count
	Aggregate   bool  // counted refusals, not one call
}

// IsCallType reports whether events of type typ are API calls, listed in
// the API log.
func IsCallType(typ string) bool {
	return typ == events.TypeAPIRequest || typ == events.TypeAPIRefused
}

// CallOf reads the call of an event of type typ: nil for a type that is not
// an API call. It fails with ErrInvalidEvent when the data does not
// describe one: no method, a status code that is not an HTTP status, a
// negative time, or an aggregate that counts nothing. Members it does not
// know are ignored, since versions grow additively.
func CallOf(typ string, data json.RawMessage) (*Call, error) {
	switch typ {
	case events.TypeAPIRequest:
		var d events.APIRequest
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%w: data of an API request: %w", ErrInvalidEvent, err)
		}
		c := &Call{
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
			Count:       1,
		}
		return c, c.check()
	case events.TypeAPIRefused:
		var d events.APIRefused
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%w: data of refused API requests: %w", ErrInvalidEvent, err)
		}
		c := &Call{
			Method:     strings.ToUpper(d.Method),
			Route:      d.Route,
			Path:       d.Route,
			StatusCode: d.StatusCode,
			IPAddress:  d.IPAddress,
			UserID:     d.UserID,
			Role:       d.Role,
			Count:      d.Count,
			Aggregate:  true,
		}
		return c, c.check()
	}
	return nil, nil
}

func (c *Call) check() error {
	switch {
	case strings.TrimSpace(c.Method) == "":
		return fmt.Errorf("%w: API request without a method", ErrInvalidEvent)
	case c.StatusCode < 100 || c.StatusCode > 599:
		return fmt.Errorf("%w: API request with status code %d", ErrInvalidEvent, c.StatusCode)
	case c.ProcessTime < 0 || math.IsNaN(c.ProcessTime) || math.IsInf(c.ProcessTime, 0):
		return fmt.Errorf("%w: API request with a process time that is not a time", ErrInvalidEvent)
	case c.Count < 1:
		return fmt.Errorf("%w: refused API requests with a count of %d", ErrInvalidEvent, c.Count)
	}
	return nil
}

// StatusClass names the class of the call's status code: "2xx" for 204.
func (c *Call) StatusClass() string {
	return strconv.Itoa(c.StatusCode/100) + "xx"
}

// Latency returns the call's process time as the statistics count it, and
// false for an aggregate, which has none. See RoundLatency.
func (c *Call) Latency() (float64, bool) {
	if c.Aggregate {
		return 0, false
	}
	return RoundLatency(c.ProcessTime), true
}

// RoundLatency rounds a process time to two significant digits (0.01234 s
// is 0.012 s), the precision of the latency percentiles: the statistics
// keep, per minute and per hour, how many calls took each rounded time (at
// most 90 values a decade), so that a week of calls is summarised by a few
// thousand numbers rather than read again.
func RoundLatency(seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(seconds, 'g', 2, 64), 64)
	return f
}

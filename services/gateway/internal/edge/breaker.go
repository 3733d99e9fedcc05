package edge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// The circuit breaker of each upstream: after breakerFailures failures in a
// row, the upstream's requests fail at once, without reaching it, for
// breakerOpenFor; then one request is let through to try it, and an answer
// closes the breaker again.
const (
	breakerFailures = 5
	breakerOpenFor  = 5 * time.Second
)

// errUpstreamStatus marks an answer that counts as the upstream failing:
// 502, 503 or 504. The answer itself still goes to the client.
type errUpstreamStatus struct{ resp *http.Response }

func (e errUpstreamStatus) Error() string { return "upstream answered " + e.resp.Status }

// breakerTransport sends one upstream's requests through its circuit
// breaker. A failure is no answer (refused, reset, or no response headers
// within the transport's timeout) or a 502, 503 or 504; a request whose
// client went away counts neither way.
type breakerTransport struct {
	next http.RoundTripper
	cb   *gobreaker.CircuitBreaker[*http.Response]
}

func newBreakerTransport(name string, next http.RoundTripper) *breakerTransport {
	return &breakerTransport{next: next, cb: gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     breakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerFailures },
		IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) },
	})}
}

func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.cb.Execute(func() (*http.Response, error) {
		resp, err := t.next.RoundTrip(req)
		if err == nil {
			switch resp.StatusCode {
			case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				return nil, errUpstreamStatus{resp}
			}
		}
		return resp, err
	})
	if se, ok := errors.AsType[errUpstreamStatus](err); ok {
		return se.resp, nil
	}
	return resp, err
}

// isOpen reports whether err is the breaker refusing a request.
func isOpen(err error) bool {
	return errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}

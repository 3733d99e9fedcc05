// Package lifecycle stops the parts of a service. A service starts its
// parts one by one and defers the stop of each right after it started:
//
//	parts := lifecycle.New(logger, 10*time.Second)
//	pool, err := open(...)
//	...
//	defer parts.Stop(&err, "postgres", lifecycle.Quiet(pool.Close))
//
// so that they stop in the reverse order, each within the timeout, with
// every failure logged and joined into the error the service returns.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Parts stops the parts of one service.
type Parts struct {
	logger  *slog.Logger
	timeout time.Duration
}

// New returns Parts that give each part timeout to stop.
func New(logger *slog.Logger, timeout time.Duration) Parts {
	return Parts{logger: logger, timeout: timeout}
}

// Stop stops the part name with stop within the timeout; a failure is
// logged and joined into *errp.
func (p Parts) Stop(errp *error, name string, stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	if err := stop(ctx); err != nil {
		p.logger.ErrorContext(ctx, "shutdown failed", "part", name, "err", err)
		*errp = errors.Join(*errp, fmt.Errorf("stop %s: %w", name, err))
		return
	}
	p.logger.DebugContext(ctx, "stopped", "part", name)
}

// Quiet adapts a stop that takes no context and cannot fail, such as
// pgxpool.Pool.Close.
func Quiet(stop func()) func(context.Context) error {
	return func(context.Context) error {
		stop()
		return nil
	}
}

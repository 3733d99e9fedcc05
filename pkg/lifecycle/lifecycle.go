// Package lifecycle stops the parts of a service. A service adds each part
// as it starts it, and defers one Stop:
//
//	parts := lifecycle.New(logger, 10*time.Second)
//	defer parts.Stop(&err)
//	pool, err := open(...)
//	...
//	parts.Add("postgres", lifecycle.Quiet(pool.Close))
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

// Parts are the started parts of one service.
type Parts struct {
	logger  *slog.Logger
	timeout time.Duration
	parts   []part
}

type part struct {
	name string
	stop func(context.Context) error
}

// New returns Parts that give each part timeout to stop.
func New(logger *slog.Logger, timeout time.Duration) *Parts {
	return &Parts{logger: logger, timeout: timeout}
}

// Add records a started part, name, and how to stop it.
func (p *Parts) Add(name string, stop func(context.Context) error) {
	p.parts = append(p.parts, part{name: name, stop: stop})
}

// Stop stops every part added, the last first, each within the timeout;
// each failure is logged and joined into *errp. It forgets the parts, so
// a second Stop does nothing.
func (p *Parts) Stop(errp *error) {
	for i := len(p.parts) - 1; i >= 0; i-- {
		if err := p.stop(p.parts[i]); err != nil {
			*errp = errors.Join(*errp, err)
		}
	}
	p.parts = nil
}

func (p *Parts) stop(pt part) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	if err := pt.stop(ctx); err != nil {
		p.logger.ErrorContext(ctx, "shutdown failed", "part", pt.name, "err", err)
		return fmt.Errorf("stop %s: %w", pt.name, err)
	}
	p.logger.DebugContext(ctx, "stopped", "part", pt.name)
	return nil
}

// Quiet adapts a stop that takes no context and cannot fail, such as
// pgxpool.Pool.Close. It waits for stop until ctx ends, and then gives up
// on it with ctx's error, leaving it to run: pgxpool's Close, for one,
// waits for every connection in use, which a stalled query holds.
func Quiet(stop func()) func(context.Context) error {
	return func(ctx context.Context) error {
		done := make(chan struct{})
		go func() {
			defer close(done)
			stop()
		}()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

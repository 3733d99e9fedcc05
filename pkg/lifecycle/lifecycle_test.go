package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/lifecycle"
)

// run stops three parts as a service's defers do, the second failing and
// the third hanging past the timeout.
func run(parts *lifecycle.Parts, order *[]string) (err error) {
	defer parts.Stop(&err)
	parts.Add("first", func(context.Context) error { *order = append(*order, "first"); return nil })
	parts.Add("second", func(context.Context) error {
		*order = append(*order, "second")
		return errors.New("refused")
	})
	parts.Add("third", func(ctx context.Context) error {
		*order = append(*order, "third")
		<-ctx.Done()
		return ctx.Err()
	})
	return errors.New("serve failed")
}

func TestStopInReverseWithTimeouts(t *testing.T) {
	var logs bytes.Buffer
	parts := lifecycle.New(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), 50*time.Millisecond)
	var order []string
	start := time.Now()
	err := run(parts, &order)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("stopping took %v: the hanging part was not cut at its timeout", took)
	}
	if strings.Join(order, ",") != "third,second,first" {
		t.Errorf("stopped %v, want the reverse of the start", order)
	}
	for _, want := range []string{"serve failed", "stop second: refused", "stop third: context deadline exceeded"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not report %q", err, want)
		}
	}
	if !strings.Contains(logs.String(), "part=first") || !strings.Contains(logs.String(), "shutdown failed") {
		t.Errorf("logs: %s", logs.String())
	}
	var again error
	parts.Stop(&again)
	if again != nil || len(order) != 3 {
		t.Errorf("a second Stop stopped parts again: %v, %v", again, order)
	}
}

func TestQuiet(t *testing.T) {
	called := false
	if err := lifecycle.Quiet(func() { called = true })(context.Background()); err != nil || !called {
		t.Errorf("Quiet = %v, called %v", err, called)
	}

	// A stop that hangs (a pool waiting for a connection a stalled query
	// holds) is given up at the part's deadline.
	hang := make(chan struct{})
	defer close(hang)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- lifecycle.Quiet(func() { <-hang })(ctx) }()
	select {
	case err := <-result:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Quiet of a hanging stop = %v, want the deadline's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Quiet waited for a hanging stop past its deadline")
	}
}

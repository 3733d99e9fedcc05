package ratelimit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/ratelimit"
)

// Two replicas sharing one subject hold a key to one budget: what one
// spends is charged to the other after an interval, and a replica's own
// spends are not charged twice.
func TestSharedBudget(t *testing.T) {
	url := natstest.Start(t)
	replica := func() *ratelimit.Keyed {
		k, s := shared(t, url, "ratelimit.test")
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		return k
	}
	a, b := replica(), replica()

	for range 6 {
		if !a.Allow("client").Allowed {
			t.Fatal("a refused within the budget")
		}
	}
	b.Spend("client") // as login throttling spends after a failure
	// Each learns of the other's spends within an interval, and never
	// charges its own twice: 10 - 6 - 1 = 3 left on both.
	waitFor(t, func() bool { return a.Remaining("client") == 3 && b.Remaining("client") == 3 })

	// Within one interval each replica still sees the 3: the overshoot is
	// what the other allowed meanwhile, at most 3 more here.
	allowed := 0
	for range 5 {
		for _, k := range []*ratelimit.Keyed{a, b} {
			if k.Allow("client").Allowed {
				allowed++
			}
		}
	}
	if allowed > 6 {
		t.Errorf("%d allowed across both replicas with 3 left, want at most 6", allowed)
	}
	// Once reconciled, the budget is spent everywhere.
	waitFor(t, func() bool { return a.Remaining("client") == 0 && b.Remaining("client") == 0 })
	if a.Allow("client").Allowed || b.Allow("client").Allowed {
		t.Error("a request allowed after the shared budget was spent")
	}
	if a.Remaining("other") != 10 {
		t.Error("another key was charged")
	}
	// A replica that starts now learns the spends of the last window.
	if c := replica(); !waitUntil(func() bool { return c.Remaining("client") == 0 }) {
		t.Errorf("a new replica has %d tokens of a spent budget", c.Remaining("client"))
	}
}

func waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// Sharing survives a NATS restart: the stream of spends is on file, the
// replicas follow it again, and they stop at once afterwards.
func TestSharingAfterANATSRestart(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.StartServerOn(t, dir, server.RANDOM_PORT)
	port := natstest.Port(srv)
	var sharings []*ratelimit.Sharing
	replica := func() *ratelimit.Keyed {
		k, s := shared(t, srv.ClientURL(), "ratelimit.restart")
		sharings = append(sharings, s)
		return k
	}
	a, b := replica(), replica()
	srv.Shutdown()
	srv.WaitForShutdown()
	natstest.StartServerOn(t, dir, port)
	// A share published before a's connection has noticed the restart is
	// lost by design (it only widens the overshoot), so a spends on a new
	// key every 100 ms until b is charged for one of them.
	var keys []string
	var spentAt time.Time
	charged := waitUntil(func() bool {
		if time.Since(spentAt) > 100*time.Millisecond {
			keys = append(keys, fmt.Sprintf("client-%d", len(keys)))
			a.Allow(keys[len(keys)-1])
			spentAt = time.Now()
		}
		for _, key := range keys {
			if b.Remaining(key) < 10 {
				return true
			}
		}
		return false
	})
	if !charged {
		t.Fatalf("none of %d spends was shared after the restart", len(keys))
	}
	for _, s := range sharings {
		start := time.Now()
		if err := s.Stop(context.Background()); err != nil || time.Since(start) > time.Second {
			t.Errorf("stop took %v: %v", time.Since(start), err)
		}
	}
}

// shared is a replica's buckets (10 tokens, no refill within a test)
// shared on subject through the NATS server at url, flushing every 20 ms.
func shared(t *testing.T, url, subject string) (*ratelimit.Keyed, *ratelimit.Sharing) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := ratelimit.OpenStream(context.Background(), js, 1); err != nil {
		t.Fatal(err)
	}
	k := ratelimit.New(10, time.Hour)
	s, err := k.Share(context.Background(), js, subject, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return k, s
}

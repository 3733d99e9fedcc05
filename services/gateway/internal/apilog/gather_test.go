package apilog

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The publisher hands on the first event with those queued by the end of
// Linger, at most maxBurst.
func TestGatherTakesWhatIsQueued(t *testing.T) {
	r := &Recorder{settings: Settings{Linger: time.Millisecond}, queue: make(chan *nats.Msg, 2*maxBurst), done: make(chan struct{})}
	first := &nats.Msg{Subject: "first"}
	r.queue <- &nats.Msg{Subject: "second"}
	r.queue <- &nats.Msg{Subject: "third"}
	got := r.gather(first)
	if len(got) != 3 || got[0] != first || got[1].Subject != "second" || got[2].Subject != "third" {
		t.Fatalf("gathered %d events: %v", len(got), subjects(got))
	}

	for range maxBurst + 5 {
		r.queue <- &nats.Msg{Subject: "many"}
	}
	if got := r.gather(first); len(got) != maxBurst {
		t.Errorf("gathered %d events, want at most %d", len(got), maxBurst)
	}

	r.settings.Linger = 0
	if got := r.gather(first); len(got) != 1 {
		t.Errorf("without linger: gathered %d events, want the first alone", len(got))
	}
}

// A closing recorder does not wait out the linger.
func TestGatherStopsWhenClosed(t *testing.T) {
	r := &Recorder{settings: Settings{Linger: time.Hour}, queue: make(chan *nats.Msg, 4), done: make(chan struct{})}
	close(r.done)
	gathered := make(chan []*nats.Msg)
	go func() { gathered <- r.gather(&nats.Msg{}) }()
	select {
	case got := <-gathered:
		if len(got) != 1 {
			t.Errorf("gathered %d events, want the first alone", len(got))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("gather waited out its linger on a closed recorder")
	}
}

func subjects(ms []*nats.Msg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

package user

import (
	"context"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

func TestThrottle(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(3, 10*time.Second)
	th.now = func() time.Time { return now }

	for i := range 3 {
		if w := th.Wait("k"); w != 0 {
			t.Fatalf("attempt %d must wait %v", i, w)
		}
		th.Fail("k")
	}
	if w := th.Wait("k"); w != 10*time.Second {
		t.Errorf("after the burst, wait = %v, want 10s", w)
	}
	if w := th.Wait("other"); w != 0 {
		t.Errorf("another key waits %v", w)
	}
	now = now.Add(4 * time.Second)
	if w := th.Wait("k"); w != 6*time.Second {
		t.Errorf("4s later, wait = %v, want 6s", w)
	}
	now = now.Add(6 * time.Second)
	if w := th.Wait("k"); w != 0 {
		t.Errorf("after the interval, wait = %v", w)
	}

	// Buckets that refilled are forgotten.
	now = now.Add(time.Hour)
	th.Fail("fresh")
	if _, ok := th.buckets["k"]; ok {
		t.Error("a refilled bucket was kept")
	}
}

func TestHashSlotsAreBounded(t *testing.T) {
	s := &Service{hashing: make(chan struct{}, 1)}
	s.hashing <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := false
	err := s.withHashSlot(ctx, func() { ran = true })
	if ran || !fault.Is(err, fault.Unavailable) {
		t.Errorf("ran = %v, err = %v; want a busy answer without hashing", ran, err)
	}
	<-s.hashing
	if err := s.withHashSlot(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Errorf("free slot: ran = %v, err = %v", ran, err)
	}
}

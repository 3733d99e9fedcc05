package user

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

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

// TestHashSlotsAreHalfTheCores: hashing never takes every core from the
// requests that need a few microseconds each.
func TestHashSlotsAreHalfTheCores(t *testing.T) {
	s, err := NewService(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := max(1, runtime.NumCPU()/2); cap(s.hashing) != want {
		t.Errorf("%d hashing slots, want %d (half of %d cores)", cap(s.hashing), want, runtime.NumCPU())
	}
}

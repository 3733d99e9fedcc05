package user

import (
	"context"
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

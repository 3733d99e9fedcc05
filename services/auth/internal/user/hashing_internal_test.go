package user

import (
	"testing"
	"time"
)

// TestHashesWaitTheirTurn: with every hashing slot taken, a hash waits
// until one frees.
func TestHashesWaitTheirTurn(t *testing.T) {
	for range cap(hashing) {
		hashing <- struct{}{}
	}
	done := make(chan string)
	go func() {
		h, err := HashPassword("Waiting-Passw0rd")
		if err != nil {
			t.Error(err)
		}
		done <- h
	}()
	select {
	case <-done:
		t.Fatal("a hash ran while every slot was taken")
	case <-time.After(200 * time.Millisecond):
	}
	<-hashing
	select {
	case h := <-done:
		if ok, _, err := VerifyPassword(h, "Waiting-Passw0rd"); !ok || err != nil {
			t.Errorf("the hash does not verify: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hash did not run once a slot freed")
	}
	for range cap(hashing) - 1 {
		<-hashing
	}
}

package cputime_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/cputime"
)

// This process's CPU time, read both ways, grows while it spins, and the
// two readings agree to within /proc's ticks.
func TestSelfAndOf(t *testing.T) {
	name, before, err := cputime.Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Base(os.Args[0]); len(want) > 15 && name != want[:15] || len(want) <= 15 && name != want {
		t.Errorf("command %q, want %q (at most 15 bytes)", name, want)
	}
	self, err := cputime.Self()
	if err != nil {
		t.Fatal(err)
	}
	// Spin until Self has counted 200 ms (however busy the machine).
	selfAfter := self
	for deadline := time.Now().Add(20 * time.Second); selfAfter-self < 200*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("Self grew by only %v in 20 s of spinning", selfAfter-self)
		}
		for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
		}
		if selfAfter, err = cputime.Self(); err != nil {
			t.Fatal(err)
		}
	}
	_, after, err := cputime.Of(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 150*time.Millisecond {
		t.Errorf("Of grew by %v while Self grew by %v", d, selfAfter-self)
	}
	if diff := after - selfAfter; diff < -50*time.Millisecond || diff > 50*time.Millisecond {
		t.Errorf("Of %v and Self %v disagree by more than /proc's ticks", after, selfAfter)
	}
}

func TestOfMissingProcess(t *testing.T) {
	if _, _, err := cputime.Of(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

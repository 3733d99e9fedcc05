package ratelimit

import (
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := New(3, 10*time.Second)
	k.now = func() time.Time { return now }

	for i := range 3 {
		d := k.Allow("a")
		if !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d = %+v", i, d)
		}
	}
	d := k.Allow("a")
	if d.Allowed || d.RetryAfter != 10*time.Second || d.Reset != 30*time.Second {
		t.Errorf("over the burst = %+v", d)
	}
	if !k.Allow("b").Allowed {
		t.Error("another key is limited")
	}
	now = now.Add(4 * time.Second)
	if w := k.Wait("a"); w != 6*time.Second {
		t.Errorf("Wait = %v, want 6s", w)
	}
	now = now.Add(6 * time.Second)
	if w := k.Wait("a"); w != 0 {
		t.Errorf("Wait after the interval = %v", w)
	}
	k.Spend("c")
	k.Spend("c")
	k.Spend("c")
	if w := k.Wait("c"); w != 10*time.Second {
		t.Errorf("Wait after three spends = %v", w)
	}

	// Full buckets are forgotten.
	now = now.Add(time.Hour)
	k.Spend("d")
	if _, ok := k.buckets["a"]; ok {
		t.Error("a full bucket was kept")
	}
	if k.Burst() != 3 || k.Window() != 30*time.Second {
		t.Errorf("Burst %d Window %v", k.Burst(), k.Window())
	}
}

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

// Spends of other replicas are charged less what the bucket has refilled
// since they were made.
func TestChargeLessTheRefill(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := New(10, 10*time.Second)
	k.now = func() time.Time { return now }
	k.charge(map[string]int{"a": 5, "b": 2, "c": 40}, now.Add(-25*time.Second)) // 2 refilled since
	if a, b, c := k.Remaining("a"), k.Remaining("b"), k.Remaining("c"); a != 7 || b != 10 || c != 0 {
		t.Errorf("remaining a %d, b %d, c %d; want 7, 10 and 0", a, b, c)
	}
}

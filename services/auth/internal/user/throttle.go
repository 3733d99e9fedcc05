package user

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle limits failed attempts per key (an account, a client address)
// with a token bucket per key: burst failures are allowed at once, then one
// per interval. It is per process; each replica throttles on its own.
type Throttle struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// NewThrottle allows burst failures per key, then one every interval.
func NewThrottle(burst int, every time.Duration) *Throttle {
	return &Throttle{every: every, burst: burst, now: time.Now, buckets: map[string]*rate.Limiter{}}
}

// Wait returns how long key must wait before its next attempt; 0 means it
// may try now.
func (t *Throttle) Wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		return 0
	}
	tokens := b.TokensAt(t.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(t.every))
}

// Fail spends one attempt of key.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	b, ok := t.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(t.every), t.burst)
		t.buckets[key] = b
	}
	b.AllowN(now, 1)
}

// sweep forgets buckets that have refilled, so that the map does not grow
// with every address that ever failed once.
func (t *Throttle) sweep(now time.Time) {
	if now.Sub(t.swept) < time.Minute {
		return
	}
	t.swept = now
	for k, b := range t.buckets {
		if b.TokensAt(now) >= float64(t.burst) {
			delete(t.buckets, k)
		}
	}
}

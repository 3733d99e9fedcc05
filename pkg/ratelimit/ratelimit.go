// Package ratelimit keeps one token bucket per key (a client address, a
// user, an account), in memory: each replica limits on its own.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a set of token buckets, one per key, each holding up to burst
// tokens and gaining one every interval.
type Keyed struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// New returns buckets of burst tokens refilled one per every.
func New(burst int, every time.Duration) *Keyed {
	return &Keyed{every: every, burst: burst, now: time.Now, buckets: map[string]*rate.Limiter{}}
}

// Burst is the size of each bucket.
func (k *Keyed) Burst() int { return k.burst }

// Window is the time an empty bucket takes to fill up again.
func (k *Keyed) Window() time.Duration { return time.Duration(k.burst) * k.every }

// Decision is the answer for one request.
type Decision struct {
	Allowed    bool
	Remaining  int           // tokens left after this request
	RetryAfter time.Duration // when refused, until the next token
	Reset      time.Duration // until the bucket is full again
}

func (k *Keyed) bucket(key string, now time.Time) *rate.Limiter {
	k.sweep(now)
	b, ok := k.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(k.every), k.burst)
		k.buckets[key] = b
	}
	return b
}

func (k *Keyed) decision(b *rate.Limiter, now time.Time, allowed bool) Decision {
	tokens := b.TokensAt(now)
	d := Decision{Allowed: allowed, Remaining: max(0, int(math.Floor(tokens)))}
	d.Reset = time.Duration((float64(k.burst) - tokens) * float64(k.every))
	if !allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(k.every))
	}
	return d
}

// Allow takes a token of key if there is one.
func (k *Keyed) Allow(key string) Decision {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	b := k.bucket(key, now)
	return k.decision(b, now, b.AllowN(now, 1))
}

// Wait returns how long key must wait for a token, without taking one; 0
// means a token is there.
func (k *Keyed) Wait(key string) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.buckets[key]
	if !ok {
		return 0
	}
	tokens := b.TokensAt(k.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(k.every))
}

// Spend takes a token of key, if any is left: for limits that count
// failures after the fact.
func (k *Keyed) Spend(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	k.bucket(key, now).AllowN(now, 1)
}

// sweep forgets full buckets now and then, so that the map does not grow
// with every key ever seen. The caller holds mu.
func (k *Keyed) sweep(now time.Time) {
	if now.Sub(k.swept) < time.Minute {
		return
	}
	k.swept = now
	for key, b := range k.buckets {
		if b.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
}

// Package ratelimit keeps one token bucket per key (a client address, a
// user, an account), in memory, and can share the buckets of every replica
// of a service through NATS (see Keyed.Share), so that the replicas hold a
// client to one budget.
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
	// pending counts, while shared, the tokens taken here since the
	// last share; nil when not shared.
	pending map[string]int
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
	allowed := b.AllowN(now, 1)
	if allowed {
		k.taken(key)
	}
	return k.decision(b, now, allowed)
}

// Remaining returns the tokens key has left, without taking one.
func (k *Keyed) Remaining(key string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.buckets[key]
	if !ok {
		return k.burst
	}
	return max(0, int(math.Floor(b.TokensAt(k.now()))))
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
	if k.bucket(key, now).AllowN(now, 1) {
		k.taken(key)
	}
}

// taken notes a token taken here for the next share. The caller holds mu.
func (k *Keyed) taken(key string) {
	if k.pending != nil && (len(k.pending) < maxPending || k.pending[key] > 0) {
		k.pending[key]++
	}
}

// charge takes from the buckets what other replicas spent at a time, less
// what a bucket has refilled since: a bucket may go below empty, and then
// takes longer to let a request through.
func (k *Keyed) charge(spent map[string]int, at time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	refilled := int(max(0, now.Sub(at)) / k.every)
	for key, n := range spent {
		if n -= refilled; n > 0 {
			k.bucket(key, now).ReserveN(now, min(n, k.burst))
		}
	}
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

// Package limit holds the gateway's limits: the token buckets behind its
// rate limits (connection attempts per source address, publish requests
// per API key, state changes and inbox reads per user), the connection
// budget its transports share (Conns), and the per-user guard of the
// inbox (Inbox), which also coalesces repeated state changes (Serial). A
// Keyed is a map of buckets, one per key, that forgets buckets that have
// refilled.
package limit

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// Rate is a bucket's refill rate and size. A Rate with PerSecond <= 0 is
// unlimited: Allow always succeeds.
type Rate struct {
	// PerSecond is how many tokens are added per second.
	PerSecond float64
	// Burst is how many tokens the bucket holds; at least 1 when limited.
	Burst int
}

// Validate refuses a rate that is not a finite number and a negative
// burst, returning one *defaults.FieldError per refused field, joined.
// (NewKeyed raises a burst below 1 to 1.)
func (r Rate) Validate() error {
	return errors.Join(
		defaults.Finite("PerSecond", r.PerSecond),
		defaults.NonNegative("Burst", r.Burst),
	)
}

// Unlimited reports whether r allows everything.
func (r Rate) Unlimited() bool { return r.PerSecond <= 0 }

// bucket is one token bucket. Its fields are guarded by the Keyed's mu.
type bucket struct {
	tokens float64
	last   time.Time
}

// Keyed is a set of token buckets, one per key. It is safe for concurrent
// use; mu guards buckets and lastSweep.
type Keyed[K comparable] struct {
	rate Rate
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[K]*bucket
	lastSweep time.Time
}

// NewKeyed returns buckets refilled at rate. now is the clock (time.Now
// when nil).
func NewKeyed[K comparable](rate Rate, now func() time.Time) *Keyed[K] {
	if now == nil {
		now = time.Now
	}
	if !rate.Unlimited() && rate.Burst < 1 {
		rate.Burst = 1
	}
	return &Keyed[K]{rate: rate, now: now, buckets: make(map[K]*bucket)}
}

// Allow takes a token from key's bucket. When the bucket is empty it
// reports false and how long until a token is back.
func (k *Keyed[K]) Allow(key K) (ok bool, retryAfter time.Duration) {
	if k == nil || k.rate.Unlimited() {
		return true, 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweepLocked(now)
	b := k.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(k.rate.Burst), last: now}
		k.buckets[key] = b
	}
	b.tokens = k.refill(b, now)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / k.rate.PerSecond * float64(time.Second)))
	return false, wait
}

// refill returns b's tokens at now, capped at the burst.
func (k *Keyed[K]) refill(b *bucket, now time.Time) float64 {
	elapsed := now.Sub(b.last).Seconds()
	if elapsed < 0 {
		elapsed = 0
	}
	return min(float64(k.rate.Burst), b.tokens+elapsed*k.rate.PerSecond)
}

// sweepLocked forgets, at most once per refill time, the buckets that are
// full again: a fresh bucket would be the same. Memory stays bounded by
// the keys seen within one refill time.
func (k *Keyed[K]) sweepLocked(now time.Time) {
	full := time.Duration(float64(k.rate.Burst) / k.rate.PerSecond * float64(time.Second))
	if now.Sub(k.lastSweep) < max(full, time.Second) {
		return
	}
	k.lastSweep = now
	for key, b := range k.buckets {
		if k.refill(b, now) >= float64(k.rate.Burst) {
			delete(k.buckets, key)
		}
	}
}

// Len reports how many buckets are held (for tests and metrics).
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// RetryAfter formats wait for a Retry-After header: whole seconds, rounded
// up, at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))
}

package limit

import (
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestKeyedBurstThenRate(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed[string](Rate{PerSecond: 10, Burst: 3}, clk.now)
	for i := range 3 {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := k.Allow("a")
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("4th: ok=%v wait=%v, want refused for 100ms", ok, wait)
	}
	if ok, _ := k.Allow("b"); !ok {
		t.Fatal("another key is limited by a's bucket")
	}
	clk.advance(50 * time.Millisecond)
	if ok, wait := k.Allow("a"); ok || wait != 50*time.Millisecond {
		t.Fatalf("after 50ms: ok=%v wait=%v", ok, wait)
	}
	clk.advance(50 * time.Millisecond)
	if ok, _ := k.Allow("a"); !ok {
		t.Fatal("a token should be back after 100ms")
	}
	clk.advance(time.Hour)
	for range 3 {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatal("the bucket did not refill to its burst")
		}
	}
	if ok, _ := k.Allow("a"); ok {
		t.Fatal("the bucket refilled beyond its burst")
	}
}

func TestKeyedSweepsFullBuckets(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed[int](Rate{PerSecond: 1, Burst: 2}, clk.now)
	for i := range 100 {
		k.Allow(i)
	}
	if n := k.Len(); n != 100 {
		t.Fatalf("%d buckets, want 100", n)
	}
	clk.advance(3 * time.Second)
	k.Allow(-1)
	if n := k.Len(); n != 1 {
		t.Fatalf("%d buckets after they all refilled, want 1", n)
	}
}

func TestUnlimitedAndNil(t *testing.T) {
	var nilK *Keyed[string]
	if ok, _ := nilK.Allow("x"); !ok {
		t.Fatal("nil Keyed refused")
	}
	k := NewKeyed[string](Rate{}, nil)
	for range 10000 {
		if ok, _ := k.Allow("x"); !ok {
			t.Fatal("unlimited refused")
		}
	}
	if k.Len() != 0 {
		t.Fatal("unlimited keeps buckets")
	}
}

func TestClockGoingBackwards(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	k := NewKeyed[string](Rate{PerSecond: 1, Burst: 1}, clk.now)
	k.Allow("a")
	clk.advance(-time.Hour)
	if ok, _ := k.Allow("a"); ok {
		t.Fatal("a clock step back refilled the bucket")
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {time.Second + 1, "2"}, {90 * time.Second, "90"}} {
		if got := RetryAfter(tt.wait); got != tt.want {
			t.Errorf("RetryAfter(%v) = %s, want %s", tt.wait, got, tt.want)
		}
	}
}

func TestRateValidate(t *testing.T) {
	tests := []struct {
		r  Rate
		ok bool
	}{
		{Rate{}, true}, {Rate{PerSecond: -1}, true}, {Rate{PerSecond: 5, Burst: 10}, true},
		{Rate{PerSecond: math.NaN()}, false}, {Rate{PerSecond: math.Inf(-1)}, false}, {Rate{PerSecond: 1, Burst: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.r.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v, want ok=%v", tt.r, err, tt.ok)
		}
	}
}

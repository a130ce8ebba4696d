package client

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 10 * time.Second
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0, 0},
		{0, 0.5, 50 * time.Millisecond},
		{0, 0.999, 99900 * time.Microsecond},
		{1, 0.5, 100 * time.Millisecond},
		{3, 0.5, 400 * time.Millisecond},
		{6, 1, 6400 * time.Millisecond},
		{7, 1, hi}, // 12.8s capped
		{7, 0.25, hi / 4},
		{1000, 0.5, hi / 2},
		{math.MaxInt, 1, hi},
		{2, -1, 0}, // out-of-range jitter is clamped
		{2, 7, 400 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt, lo, hi, tt.r); got != tt.want {
			t.Errorf("backoff(%d, r=%v) = %v, want %v", tt.attempt, tt.r, got, tt.want)
		}
	}
}

func TestBackoffBoundedForAnyJitter(t *testing.T) {
	for attempt := range 100 {
		for _, r := range []float64{0, 0.1, 0.5, 0.9, 0.999999} {
			d := backoff(attempt, time.Millisecond, time.Duration(math.MaxInt64), r)
			if d < 0 {
				t.Fatalf("backoff(%d, %v) = %v < 0", attempt, r, d)
			}
			if d := backoff(attempt, 100*time.Millisecond, 10*time.Second, r); d < 0 || d > 10*time.Second {
				t.Fatalf("backoff(%d, %v) = %v out of [0, max]", attempt, r, d)
			}
		}
	}
}

func TestNewShufflesEndpointsWithRand(t *testing.T) {
	eps := []string{"ws://a/v1/ws", "ws://b/v1/ws", "ws://c/v1/ws"}
	cfg := testConfig(eps...)
	cfg.Rand = func() float64 { return 0 }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Fisher-Yates with j = 0: i=2 swaps a,c -> c b a; i=1 swaps c,b -> b c a.
	var got []string
	for range 4 {
		got = append(got, c.nextEndpoint())
	}
	if want := []string{"ws://b/v1/ws", "ws://c/v1/ws", "ws://a/v1/ws", "ws://b/v1/ws"}; !slices.Equal(got, want) {
		t.Errorf("endpoint order %v, want %v", got, want)
	}
	if !slices.Equal(cfg.Endpoints, eps) {
		t.Errorf("New modified the caller's Endpoints: %v", cfg.Endpoints)
	}
}

package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// callers reports how many callers key has in s.
func (s *Serial[K, R]) callers(key K) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.lines[key]; l != nil {
		return l.callers
	}
	return 0
}

// waitCallers waits until key has n callers in s.
func waitCallers[K comparable, R any](t *testing.T, s *Serial[K, R], key K, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.callers(key) != n {
		if time.Now().After(deadline) {
			t.Fatalf("key %v has %d callers, want %d", key, s.callers(key), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// result is what one Do returned.
type result struct {
	v      int
	joined bool
	err    error
}

// TestSerialJoinsOnlyWaitingCalls: identical calls that arrive while one
// runs are not merged into it (it may have read the state already) but
// into one call that runs after it; that call's callers share its result,
// one of them ran it.
func TestSerialJoinsOnlyWaitingCalls(t *testing.T) {
	var s Serial[string, int]
	var runs atomic.Int32
	release := make(chan struct{})
	f := func(context.Context) (int, error) {
		n := int(runs.Add(1))
		if n == 1 {
			<-release
		}
		return n, nil
	}
	ctx := context.Background()
	first := make(chan result, 1)
	go func() {
		v, joined, err := s.Do(ctx, "u", "read 1", f)
		first <- result{v, joined, err}
	}()
	waitCallers(t, &s, "u", 1)
	for runs.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	const n = 5
	later := make(chan result, n)
	for range n {
		go func() {
			v, joined, err := s.Do(ctx, "u", "read 1", f)
			later <- result{v, joined, err}
		}()
	}
	waitCallers(t, &s, "u", n+1)
	close(release)
	if r := <-first; r != (result{1, false, nil}) {
		t.Fatalf("first call: %+v", r)
	}
	ran := 0
	for range n {
		r := <-later
		if r.v != 2 || r.err != nil {
			t.Fatalf("later call: %+v, want the second run's result", r)
		}
		if !r.joined {
			ran++
		}
	}
	if ran != 1 || runs.Load() != 2 {
		t.Fatalf("%d later callers ran f, f ran %d times; want 1 and 2", ran, runs.Load())
	}
	if s.Len() != 0 {
		t.Fatalf("%d keys held after every caller left", s.Len())
	}
}

// TestSerialOneAtATimePerKey: the calls of one key never overlap, other
// keys are not held up, and different calls are not merged.
func TestSerialOneAtATimePerKey(t *testing.T) {
	var s Serial[string, int]
	var running, most atomic.Int32
	block := make(chan struct{})
	f := func(context.Context) (int, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		return int(n), nil
	}
	go func() {
		_, _, _ = s.Do(context.Background(), "a", "block", func(context.Context) (int, error) { <-block; return 0, nil })
	}()
	waitCallers(t, &s, "a", 1)
	if _, _, err := s.Do(context.Background(), "b", "x", f); err != nil {
		t.Fatalf("key b waited for key a: %v", err)
	}
	var wg sync.WaitGroup
	var joined atomic.Int32
	for i := range 10 {
		wg.Go(func() {
			if _, j, _ := s.Do(context.Background(), "a", string(rune('0'+i)), f); j {
				joined.Add(1)
			}
		})
	}
	waitCallers(t, &s, "a", 11)
	close(block)
	wg.Wait()
	if most.Load() != 1 || joined.Load() != 0 {
		t.Fatalf("at most %d calls of a key at once, %d different calls merged; want 1 and 0", most.Load(), joined.Load())
	}
}

// TestSerialCallerLeaves: a caller whose context ends returns its error;
// the call it waited for still runs for the callers that stay, with a
// context its leaving did not cancel; when every caller leaves, the key
// is forgotten.
func TestSerialCallerLeaves(t *testing.T) {
	var s Serial[string, int]
	block := make(chan struct{})
	go func() {
		_, _, _ = s.Do(context.Background(), "u", "block", func(context.Context) (int, error) { <-block; return 0, nil })
	}()
	waitCallers(t, &s, "u", 1)
	leaving, leave := context.WithCancel(context.Background())
	var ran atomic.Int32
	f := func(ctx context.Context) (int, error) {
		ran.Add(1)
		return 7, ctx.Err()
	}
	left := make(chan error, 1)
	go func() { _, _, err := s.Do(leaving, "u", "read", f); left <- err }()
	waitCallers(t, &s, "u", 2)
	stays := make(chan result, 1)
	go func() { v, j, err := s.Do(context.Background(), "u", "read", f); stays <- result{v, j, err} }()
	waitCallers(t, &s, "u", 3)
	leave()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("leaving caller: %v", err)
	}
	close(block)
	if r := <-stays; r.v != 7 || r.err != nil || ran.Load() != 1 {
		t.Fatalf("staying caller: %+v after %d runs", r, ran.Load())
	}
	waitCallers(t, &s, "u", 0)
	if s.Len() != 0 {
		t.Fatalf("%d keys held", s.Len())
	}
}

// TestSerialKeepsDeadline: f's context has the caller's deadline.
func TestSerialKeepsDeadline(t *testing.T) {
	var s Serial[string, bool]
	want := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	ok, _, _ := s.Do(ctx, "u", "x", func(ctx context.Context) (bool, error) {
		d, ok := ctx.Deadline()
		return ok && d.Equal(want), nil
	})
	if !ok {
		t.Fatal("f's context lost the caller's deadline")
	}
}

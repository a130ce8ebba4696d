package limit

import (
	"context"
	"sync"
)

// Serial runs the calls of one key one at a time, roughly in arrival
// order, and merges a call into an identical one (same key, same value of
// same) that is still waiting for its turn: the merged call runs once and
// every caller gets its result. Only a call that has not started can be
// joined, so every joiner was already waiting when the call ran, and may
// be taken to have run right after it with nothing in between. The zero
// value is ready; it is safe for concurrent use. Memory: a key is held
// while it has callers.
//
// Locks: mu guards lines and the fields of every line and call marked so;
// nothing is called under it.
type Serial[K comparable, R any] struct {
	mu    sync.Mutex
	lines map[K]*line[R]
}

// line is the queue of one key.
type line[R any] struct {
	turn    chan struct{}       // holds a token while a call of the key runs; capacity 1
	waiting map[string]*call[R] // calls not yet started, by same; guarded by Serial.mu
	callers int                 // callers of the key in Do; guarded by Serial.mu
}

// call is one run of f, shared by its callers.
type call[R any] struct {
	done    chan struct{} // closed once res and err are set
	res     R
	err     error
	started bool // guarded by Serial.mu
	callers int  // callers waiting for it; guarded by Serial.mu
}

// Do runs f for key once every call of key before it has ended, unless a
// call of key with the same same is still waiting for its turn: then Do
// waits for that call instead and returns its result with joined true.
// f runs on one caller's goroutine, with ctx's deadline but not its
// cancellation, so a caller that leaves does not fail the others. Do
// returns ctx.Err() when ctx ends before the result.
func (s *Serial[K, R]) Do(ctx context.Context, key K, same string, f func(context.Context) (R, error)) (res R, joined bool, err error) {
	l, c := s.enter(key, same)
	defer s.leave(key, l)
	for {
		select {
		case <-c.done:
			return c.res, true, c.err
		case l.turn <- struct{}{}:
			if !s.start(l, c, same) { // another caller ran it meanwhile
				<-l.turn
				continue
			}
			c.res, c.err = run(ctx, f)
			close(c.done)
			<-l.turn
			return c.res, false, c.err
		case <-ctx.Done():
			s.abandon(l, c, same)
			var zero R
			return zero, false, ctx.Err()
		}
	}
}

// enter finds or makes key's line and the waiting call for same.
func (s *Serial[K, R]) enter(key K, same string) (*line[R], *call[R]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lines == nil {
		s.lines = make(map[K]*line[R])
	}
	l := s.lines[key]
	if l == nil {
		l = &line[R]{turn: make(chan struct{}, 1), waiting: make(map[string]*call[R])}
		s.lines[key] = l
	}
	l.callers++
	c := l.waiting[same]
	if c == nil {
		c = &call[R]{done: make(chan struct{})}
		l.waiting[same] = c
	}
	c.callers++
	return l, c
}

// start marks c started, so later callers of same make a new call. It
// reports false when c has already run.
func (s *Serial[K, R]) start(l *line[R], c *call[R], same string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.started {
		return false
	}
	c.started = true
	if l.waiting[same] == c {
		delete(l.waiting, same)
	}
	return true
}

// abandon forgets c when its last caller leaves before it started.
func (s *Serial[K, R]) abandon(l *line[R], c *call[R], same string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.callers--
	if c.callers == 0 && !c.started && l.waiting[same] == c {
		delete(l.waiting, same)
	}
}

// leave drops key's line when its last caller leaves.
func (s *Serial[K, R]) leave(key K, l *line[R]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.callers--
	if l.callers == 0 && s.lines[key] == l {
		delete(s.lines, key)
	}
}

// Len reports how many keys have callers (for tests).
func (s *Serial[K, R]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// run calls f with ctx's deadline and values but not its cancellation.
func run[R any](ctx context.Context, f func(context.Context) (R, error)) (R, error) {
	rctx := context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(rctx, d)
		defer cancel()
	}
	return f(rctx)
}

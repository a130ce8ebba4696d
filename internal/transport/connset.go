package transport

import (
	"context"
	"sync"
	"time"
)

// ConnSet is the set of a server's open connections, kept for a drain:
// once Drain begins it admits none, closes the open ones spread over time
// and waits for them to be removed. The zero value is ready; it is safe
// for concurrent use.
//
// Locks: mu is a leaf; only Filter's keep is called under it.
type ConnSet[T comparable] struct {
	mu      sync.Mutex
	open    map[T]struct{} // from Add to Remove
	closing bool           // no new connections
	refused int            // Adds refused while closing, not yet removed
	changed Changes        // notified when a connection or refusal is removed
}

// Add adds c and reports true, or, once Drain has begun, counts c as
// refused and reports false. Either way Remove(c) must follow.
func (s *ConnSet[T]) Add(c T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		s.refused++
		return false
	}
	if s.open == nil {
		s.open = make(map[T]struct{})
	}
	s.open[c] = struct{}{}
	return true
}

// Remove ends what Add began and wakes the waiters.
func (s *ConnSet[T]) Remove(c T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[c]; ok {
		delete(s.open, c)
	} else {
		s.refused--
	}
	s.changed.NotifyLocked()
}

// Filter returns the open connections for which keep, called with the
// set's lock held, reports true.
func (s *ConnSet[T]) Filter(keep func(T) bool) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []T
	for c := range s.open {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// Wait returns nil once every connection added, and every one refused,
// has been removed, or ctx.Err() if ctx ends first.
func (s *ConnSet[T]) Wait(ctx context.Context) error {
	return s.changed.Wait(ctx, &s.mu, func() bool { return len(s.open) == 0 && s.refused == 0 })
}

// Drain refuses new connections and calls closeConn for every open one,
// the calls spread evenly over spread (see Spread) so clients do not
// reconnect all at once. It returns nil once every open connection has
// been removed, or, when ctx ends first, calls abort for each and returns
// ctx.Err() once they have been removed.
func (s *ConnSet[T]) Drain(ctx context.Context, spread time.Duration, closeConn, abort func(T)) error {
	s.mu.Lock()
	s.closing = true
	all := make([]T, 0, len(s.open))
	for c := range s.open {
		all = append(all, c)
	}
	s.mu.Unlock()
	Spread(ctx, len(all), spread, func(i int) { closeConn(all[i]) })
	empty := func() bool { return len(s.open) == 0 }
	if s.changed.Wait(ctx, &s.mu, empty) == nil {
		return nil
	}
	for _, c := range all {
		abort(c)
	}
	_ = s.changed.Wait(context.Background(), &s.mu, empty)
	return ctx.Err()
}

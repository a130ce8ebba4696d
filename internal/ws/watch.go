package ws

import (
	"sync"
	"sync/atomic"
	"time"
)

// aLongTimeAgo is a read deadline in the past: it ends a pending read at
// once (as net/http aborts its background read).
var aLongTimeAgo = time.Unix(1, 0)

// watchAfter is how long a resume runs before watchGone starts watching
// the socket: most resumes are done by then, and a client gives up on a
// welcome only after seconds (the Go client after 5 s).
const watchAfter = time.Second

// watchGone notices a client that leaves while its resume is read (a
// deep read can wait for its turn at Redis for seconds in a reconnect
// storm): nothing else reads the socket before the welcome. After
// watchAfter, a goroutine in s.goroutines peeks at the socket through the
// library's reader; bytes that arrive stay buffered for readLoop, and an
// end of the socket cancels the session, which ends the resume and frees
// its turn. The returned stop aborts the peek (a read deadline in the
// past, then none) and waits for the goroutine, so the library is again
// the only reader.
func (s *session) watchGone() (stop func()) {
	var (
		mu       sync.Mutex
		started  bool // guarded by mu; the peek runs (or ran)
		stopped  bool // guarded by mu; stop was called
		aborting atomic.Bool
		done     = make(chan struct{})
	)
	peek := func() {
		defer close(done)
		if _, err := s.br.Peek(1); err != nil && !aborting.Load() {
			s.cancel()
		}
	}
	t := time.AfterFunc(watchAfter, s.goroutines.Func(func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		started = true
		if !s.goroutines.Go(peek) {
			close(done)
		}
	}))
	return func() {
		t.Stop()
		mu.Lock()
		stopped = true
		wasStarted := started
		mu.Unlock()
		if !wasStarted {
			return
		}
		aborting.Store(true)
		_ = s.sc.SetReadDeadline(aLongTimeAgo)
		<-done
		_ = s.sc.SetReadDeadline(time.Time{})
	}
}

package ws

import (
	"sync/atomic"
	"time"
)

// aLongTimeAgo is a read deadline in the past: it ends a pending read at
// once (as net/http aborts its background read).
var aLongTimeAgo = time.Unix(1, 0)

// watchGone notices a client that leaves while its resume is read (a
// deep read can wait for its turn at Redis for seconds in a reconnect
// storm): nothing else reads the socket before the welcome. A goroutine
// in s.goroutines peeks at the socket through the library's reader;
// bytes that arrive stay buffered for readLoop, and an end of the socket
// cancels the session, which ends the resume and frees its turn. The
// returned stop aborts the peek (a read deadline in the past, then none)
// and waits for the goroutine, so the library is again the only reader.
func (s *session) watchGone() (stop func()) {
	var stopping atomic.Bool
	done := make(chan struct{})
	if !s.goroutines.Go(func() {
		defer close(done)
		if _, err := s.br.Peek(1); err != nil && !stopping.Load() {
			s.cancel()
		}
	}) {
		close(done)
	}
	return func() {
		stopping.Store(true)
		_ = s.sc.SetReadDeadline(aLongTimeAgo)
		<-done
		_ = s.sc.SetReadDeadline(time.Time{})
	}
}

package ws

import (
	"context"
	"time"
)

// RunWriteWatchdog closes sockets whose frame write has been blocked for
// longer than WriteTimeout, until ctx ends; it runs on the caller's
// goroutine. Frame writes carry no deadline of their own (that would cost
// a timer per frame): this is their deadline.
func (s *Server) RunWriteWatchdog(ctx context.Context) {
	t := time.NewTicker(max(s.cfg.WriteTimeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, sess := range s.stuck(now) {
				s.log.Debug("ws: write timed out", "remote", sess.remote)
				// Owned by the session's group: CloseNow waits for the
				// library's goroutines, which must not stall the watchdog.
				// The stuck write then fails and the session ends.
				sess.goroutines.Go(func() { sess.cancel(); _ = sess.wsConn.CloseNow() })
			}
		}
	}
}

// stuck returns the sessions whose write in progress began before
// now - WriteTimeout.
func (s *Server) stuck(now time.Time) []*session {
	limit := now.Add(-s.cfg.WriteTimeout).UnixNano()
	return s.sessions.Filter(func(sess *session) bool {
		ws := sess.sc.writeStart.Load()
		return ws != 0 && ws < limit
	})
}

package ws

import (
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// startWriter is the queue's start func: it runs under hub.mu and
// Queue.mu, so it only queues a turn on the writer pool, or, for a socket
// that cannot write without blocking (TLS), starts a dedicated writer.
func (s *session) startWriter() {
	if s.sc.raw != nil {
		s.srv.writers.submit(s)
		return
	}
	s.goroutines.Go(func() { s.writeLoop(nil) })
}

// writeTurn is a pool worker's turn: it writes what the queue holds, in
// frames, without blocking, until the queue is empty. When the socket
// backs up it hands the frames left to a dedicated writer (writeLoop).
func (s *session) writeTurn(f *frameBuf) {
	if !s.goroutines.enter() {
		return // the session ended; its queue is closed
	}
	defer s.goroutines.leave()
	q := s.hubConn.Queue
	for {
		msgs, overflow, ok := q.Take()
		if !ok {
			return
		}
		if overflow {
			s.goroutines.Go(s.closeSlow) // close blocks on the handshake
			return
		}
		rest, blocked, err := s.writeFrames(f, msgs, s.sc.tryWrite)
		if err != nil {
			s.fail()
			return
		}
		if blocked {
			// The socket backed up: the writing passes to the new
			// goroutine with what is left of this batch (the queue's
			// running flag stays set).
			s.goroutines.Go(func() { s.writeLoop(rest) })
			return
		}
	}
}

// writeFrames writes msgs in frames through write until they are all
// written or write reports the socket backed up (blocked), and returns
// the messages left.
func (s *session) writeFrames(f *frameBuf, msgs [][]byte, write func([]byte) (taken, blocked bool, err error)) ([][]byte, bool, error) {
	for len(msgs) > 0 {
		rest := s.fillFrame(f, msgs)
		taken, blocked, err := write(f.frame())
		if err != nil {
			return msgs, false, err
		}
		if taken {
			s.wrote(msgs[:len(msgs)-len(rest)])
			msgs = rest
		}
		if blocked {
			return msgs, true, nil
		}
	}
	return nil, false, nil
}

// writeLoop is a dedicated writer: it writes what a backed-up socket
// holds back, then msgs, then drains the queue, coalescing waiting
// messages into frames, blocking on the socket as long as it takes (the
// write watchdog bounds it), and returns when the queue is empty.
func (s *session) writeLoop(msgs [][]byte) {
	f := s.srv.frames.Get().(*frameBuf)
	defer s.srv.frames.Put(f)
	// The rest of a frame tryWrite could not write must go out even when
	// nothing follows it.
	if err := s.sc.flush(); err != nil {
		s.fail()
		return
	}
	q := s.hubConn.Queue
	for {
		if _, _, err := s.writeFrames(f, msgs, s.sc.writeBlocking); err != nil {
			s.fail()
			return
		}
		var overflow, ok bool
		msgs, overflow, ok = q.Take()
		if !ok {
			return
		}
		if overflow {
			s.closeSlow()
			return
		}
	}
}

// fillFrame puts as many of msgs as fit in MaxFrameBytes (at least one)
// into f and returns the rest.
func (s *session) fillFrame(f *frameBuf, msgs [][]byte) [][]byte {
	return f.fill(msgs, s.srv.cfg.MaxFrameBytes)
}

// fail ends the session after a failed write. The queue's running flag
// stays set: no writer starts for a dead socket.
func (s *session) fail() {
	s.cancel()
	_ = s.wsConn.CloseNow()
}

func (s *session) closeSlow() { s.close(protocol.CloseSlowClient, "client too slow") }

// wrote records a frame of msgs just written.
func (s *session) wrote(msgs [][]byte) {
	now := time.Now()
	s.lastWrite.Store(now.UnixNano())
	s.observeLag(msgs, now)
}

// observeLag records the delivery lag of the newest alarm in a frame just
// written: one histogram observation per frame, no allocation.
func (s *session) observeLag(frame [][]byte, now time.Time) {
	for i := len(frame) - 1; i >= 0; i-- {
		if ms, ok := alarm.FrameTS(frame[i]); ok {
			s.srv.m.DeliveryLag.Observe(max(0, float64(now.UnixMilli()-int64(ms))/1000))
			return
		}
	}
}

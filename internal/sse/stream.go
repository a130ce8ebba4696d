package sse

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/transport"
	"github.com/alarmgate/alarmgate/protocol"
)

// transport labels this package's connections in metrics.
const transportLabel = "sse"

// stream is one SSE response. Its handler goroutine (run) is the only one
// that writes to it: the hub's queue wakes it through wake, and close,
// called from anywhere, records the close code and cancels ctx, after
// which run writes the close event and returns.
type stream struct {
	srv    *Server
	w      http.ResponseWriter
	rc     *http.ResponseController
	r      *http.Request
	claims auth.Claims
	ctx    context.Context // ends with the request, or when close or abort is called
	cancel context.CancelFunc
	wake   chan struct{} // the queue asks for a writer; buffered 1

	closeOnce sync.Once
	closed    atomic.Pointer[protocol.Close] // set once by close before it cancels ctx

	// run-owned
	part      *transport.Resumer // the partition serving the stream
	hubConn   *hub.Conn
	enc       encoder
	buf       bytes.Buffer
	lastWrite time.Time
	failed    bool // a write failed: write nothing more
}

func newStream(s *Server, w http.ResponseWriter, r *http.Request, claims auth.Claims) *stream {
	ctx, cancel := context.WithCancel(r.Context())
	return &stream{srv: s, w: w, rc: http.NewResponseController(w), r: r, claims: claims,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
}

// close ends the stream with a close event for code; it never blocks.
func (st *stream) close(code protocol.CloseCode, reason string) {
	st.closeOnce.Do(func() {
		st.closed.Store(&protocol.Close{Code: code, Reason: reason})
		st.cancel()
	})
}

// abort ends the stream without a close event.
func (st *stream) abort() {
	st.closeOnce.Do(st.cancel)
}

// wakeUp is the queue's start func: it runs under the queue's lock and
// must not block.
func (st *stream) wakeUp() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// header starts the response: the headers and the retry field.
func (st *stream) header() bool {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	st.w.WriteHeader(http.StatusOK)
	retry := st.srv.cfg.Retry + time.Duration(rand.Int64N(int64(st.srv.cfg.Retry)+1))
	return st.write(retryField(retry.Milliseconds()))
}

// refuse answers a stream that cannot start with a close event.
func (st *stream) refuse(code protocol.CloseCode, reason string) {
	defer st.cancel()
	if st.header() {
		st.writeClose(code, reason)
	}
	st.clearDeadline()
}

// run serves the stream until it ends: it resumes, registers with the hub
// and writes what the queue holds, heartbeats and finally the close event.
func (st *stream) run() {
	defer st.cancel()
	defer st.clearDeadline()
	if !st.header() {
		return
	}
	part, err := st.srv.parts.For(st.claims.Subject, st.claims.Channels)
	if err != nil {
		st.writeClose(protocol.CloseAuth, err.Error())
		return
	}
	st.part = part
	if !part.Feed.Ready() {
		st.writeClose(protocol.CloseTryLater, "node not ready")
		return
	}
	req := st.request()
	st.hubConn = part.Hub.NewConn(st.claims.AllChannels(), st.wakeUp, st.close)
	st.hubConn.Inbox = st.claims.Inbox() // the inbox: its counts go in the welcome
	defer func() {
		part.Hub.Unregister(st.hubConn)
		st.hubConn.Queue.Close()
	}()
	w, err := part.Resume(st.ctx, st.hubConn, req)
	if err != nil {
		if st.ctx.Err() == nil {
			st.srv.log.Warn("sse: resume from redis failed", "remote", st.srv.conns.Source(st.r), "err", err)
		}
		st.writeClose(transport.ResumeClose(err))
		return
	}
	gauge := st.srv.m.Transport.WithLabelValues(transportLabel)
	gauge.Inc()
	defer gauge.Dec()
	st.srv.log.Debug("sse: stream started", "remote", st.srv.conns.Source(st.r), "sub", st.claims.Subject,
		"status", w.Status, "replayed", w.Replayed)
	if !st.claims.Expires.IsZero() {
		t := time.AfterFunc(time.Until(st.claims.Expires), func() { st.close(protocol.CloseAuth, "token expired") })
		defer t.Stop()
	}
	st.loop()
}

// request reads the client's position from Last-Event-ID or, for clients
// that reconnect by themselves (EventSource sends the header only on its
// own reconnects), the last_event_id parameter, and catches up when it is
// ahead of this node.
func (st *stream) request() hub.Resume {
	v := st.r.Header.Get("Last-Event-ID")
	if v == "" {
		v = st.r.URL.Query().Get("last_event_id")
	}
	var lastID *string
	epoch := ""
	if v != "" {
		e, id, err := protocol.ParseEventID(v)
		if err != nil {
			id = "" // answered invalid
		}
		lastID, epoch = &id, e
	}
	return st.part.Request(st.ctx, lastID, epoch)
}

// loop writes until the stream ends.
func (st *stream) loop() {
	hb := st.srv.cfg.Heartbeat
	t := time.NewTimer(transport.Jitter(hb)) // not in lockstep with a reconnect storm
	defer t.Stop()
	for {
		select {
		case <-st.wake:
			if !st.drain() {
				return
			}
		case <-t.C:
			idle := time.Since(st.lastWrite)
			if idle >= hb {
				if !st.write(heartbeat) {
					return
				}
				idle = 0
			}
			t.Reset(hb - idle)
		case <-st.ctx.Done():
			if c := st.closed.Load(); c != nil {
				st.writeClose(c.Code, c.Reason)
			}
			return
		}
	}
}

// drain writes what the queue holds, coalescing events into writes of at
// most MaxWriteBytes (at least one event). It reports false when the
// stream must end: a write failed or the queue overflowed.
func (st *stream) drain() bool {
	q := st.hubConn.Queue
	for {
		msgs, overflow, ok := q.Take()
		if !ok {
			return true
		}
		if overflow {
			st.close(protocol.CloseSlowClient, "client too slow")
			st.writeClose(protocol.CloseSlowClient, "client too slow")
			return false
		}
		st.buf.Reset()
		for _, m := range msgs {
			st.enc.appendEvent(&st.buf, m)
			if st.buf.Len() >= st.srv.cfg.MaxWriteBytes {
				if !st.write(st.buf.Bytes()) {
					return false
				}
				st.buf.Reset()
			}
		}
		if st.buf.Len() > 0 && !st.write(st.buf.Bytes()) {
			return false
		}
	}
}

// writeClose writes the close event for code and counts it.
func (st *stream) writeClose(code protocol.CloseCode, reason string) {
	st.srv.m.Closes.WithLabelValues(transport.CloseLabel(code)).Inc()
	st.write(closeEvent(code, reason))
}

// write writes b and flushes it, within WriteTimeout. A failed write ends
// the stream.
func (st *stream) write(b []byte) bool {
	if st.failed {
		return false
	}
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.srv.cfg.WriteTimeout)) // unsupported: no deadline
	_, err := st.w.Write(b)
	if err == nil {
		err = st.rc.Flush()
	}
	if err != nil {
		st.failed = true
		st.cancel()
		return false
	}
	st.lastWrite = time.Now()
	return true
}

// clearDeadline lifts the write deadline so the server can finish the
// response (and reuse the connection) after the handler returns.
func (st *stream) clearDeadline() {
	_ = st.rc.SetWriteDeadline(time.Time{})
}
